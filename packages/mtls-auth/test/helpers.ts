import { createServer, type Server } from 'node:https';
import { connect, type ConnectionOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Authenticator } from '../src/index.js';

/** Starts an https server on 127.0.0.1:0 that answers every request with the authenticator's verdict. */
export async function startServer(auth: Authenticator, tls: { key: string; cert: string; ca: string[]; requestCert: boolean; rejectUnauthorized: boolean; ticketKeys?: Buffer; sessionIdContext?: string }) {
  const server: Server = createServer({ ...tls, maxHeaderSize: 16 * 1024 }, (req, res) => {
    auth.authenticate(req).then(
      (r) => {
        const reused = (req.socket as TLSSocket).isSessionReused();
        const body = Buffer.from(JSON.stringify(r.ok ? { username: r.user.username, role: r.user.role, authenticatedBy: r.method } : { error: r.error, reason: r.reason }));
        res.writeHead(r.ok ? 200 : r.status, { 'content-type': 'application/json', 'content-length': body.length, 'x-session-reused': String(reused) });
        res.end(body);
      },
      (err) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

export interface RawReply {
  status: number;
  body: Record<string, unknown>;
  reused: boolean;
  session?: Buffer;
}

/**
 * One or more HTTP/1.1 requests over a single TLS connection made with tls.connect, so the test
 * controls the session (resumption) and the TLS version.
 */
export function rawRequests(port: number, tlsOpts: ConnectionOptions, requests: Array<Record<string, string>>, timeoutMs = 5000, between?: (repliesSoFar: number) => Promise<void>): Promise<{ replies: RawReply[]; session?: Buffer; error?: Error }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsOpts });
    let session: Buffer | undefined;
    let buf = '';
    const replies: RawReply[] = [];
    const timer = setTimeout(() => finish(new Error('timeout')), timeoutMs);
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, session, error });
    };
    socket.on('session', (s: Buffer) => (session = s));
    socket.on('error', (e) => finish(e));
    socket.on('close', () => finish(replies.length < requests.length ? new Error('closed') : undefined));
    let sent = 0;
    const sendNext = () => {
      const headers = requests[sent++]!;
      const lines = ['GET /whoami HTTP/1.1', 'Host: localhost', 'Connection: keep-alive', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    };
    socket.on('secureConnect', () => sendNext());
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buf.slice(0, headEnd);
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < headEnd + 4 + len) return;
        const body = buf.slice(headEnd + 4, headEnd + 4 + len);
        buf = buf.slice(headEnd + 4 + len);
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(Buffer.from(body, 'latin1').toString('utf8'));
        } catch {
          parsed = { raw: body };
        }
        replies.push({ status: Number(head.split(' ')[1]), body: parsed, reused: /x-session-reused: true/i.test(head) });
        if (replies.length === requests.length) {
          // TLS 1.3 tickets arrive after the handshake; give them a moment before closing.
          setTimeout(() => finish(), session || tlsOpts.maxVersion === 'TLSv1.2' ? 0 : 50);
          return;
        }
        if (between) {
          const n = replies.length;
          between(n).then(sendNext, (e: Error) => finish(e));
        } else sendNext();
      }
    });
  });
}

/** A fake revocation checker with a switchable verdict that counts its calls. */
export function fakeChecker(initial: 'good' | 'revoked' = 'good') {
  const state = { status: initial as string, calls: 0 };
  return {
    state,
    async check(_chain: Uint8Array[]) {
      state.calls++;
      return { status: state.status, allowed: state.status !== 'revoked', certificates: [] };
    },
  };
}
