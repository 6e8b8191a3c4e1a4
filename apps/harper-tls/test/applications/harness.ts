import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';

/** What an echo upstream saw of one request. */
export interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  /** CN of the client certificate harper-tls presented (https upstream). */
  peerCn?: string;
}

/** Every value of a header in a raw header list, any case. */
export function values(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase().replaceAll('_', '-') === name) out.push(raw[i + 1]!);
  return out;
}

/**
 * The upstream every proxy test talks to: echoes what it received (JSON), streams `n` bytes on
 * /big?n=, counts an upload on /upload, never answers /slow, resets the connection on /reset.
 */
export function echoHandler(extra?: (req: http.IncomingMessage) => Partial<Seen>) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.endsWith('/slow')) return; // no headers, ever
    if (url.pathname.endsWith('/reset')) return void req.socket.destroy();
    if (url.pathname.endsWith('/big')) {
      let left = Number(url.searchParams.get('n'));
      const chunk = Buffer.alloc(64 * 1024, 97);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, bytes, ...extra?.(req) });
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], connection: 'keep-alive', 'keep-alive': 'timeout=5' });
      res.end(body);
    });
  };
}

export interface Upstreams {
  http: http.Server;
  https: https.Server;
  ws: http.Server;
  ports: { http: number; https: number; ws: number };
  /** Requests the https upstream refused in the handshake (no or wrong client certificate). */
  httpsRefused: () => number;
  close(): Promise<void>;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** A plain-HTTP echo upstream (`echoHandler`) on 127.0.0.1, and its origin. */
export async function startEchoUpstream(): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer(echoHandler());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

/** A plain upstream, an https one that requires a client certificate from `caFile`, and a WebSocket echo (the `ws` package). */
export async function startUpstreams(keys: { caFile: string; certFile: string; keyFile: string }): Promise<Upstreams> {
  const plain = http.createServer(echoHandler());
  let refused = 0;
  const secure = https.createServer(
    { ca: readFileSync(keys.caFile), cert: readFileSync(keys.certFile), key: readFileSync(keys.keyFile), requestCert: true, rejectUnauthorized: true },
    echoHandler((req) => ({ peerCn: (req.socket as tls.TLSSocket).getPeerCertificate().subject?.CN as string })),
  );
  secure.on('tlsClientError', () => refused++);
  const wsServer = http.createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server: wsServer });
  wss.on('connection', (socket, req) => {
    socket.send(JSON.stringify({ hello: values(req.rawHeaders, 'x-forwarded-user'), xfcc: values(req.rawHeaders, 'x-forwarded-client-cert').length, url: req.url }));
    socket.on('message', (data, binary) => socket.send(data, { binary }));
  });
  const ports = { http: await listen(plain), https: await listen(secure), ws: await listen(wsServer) };
  return {
    http: plain,
    https: secure,
    ws: wsServer,
    ports,
    httpsRefused: () => refused,
    async close() {
      for (const c of wss.clients) c.terminate();
      await Promise.all([plain, secure, wsServer].map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
    },
  };
}

/** One raw HTTP/1.1 request over TLS (what curl cannot send: duplicates, odd case, obs-fold); resolves with status and body. */
export function rawTls(port: number, dir: string, who: string | undefined, request: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: readFileSync(join(dir, '..', 'keys', 'ca.pem')),
      ...(who ? { cert: readFileSync(join(dir, `${who}.pem`)), key: readFileSync(join(dir, `${who}-key.pem`)) } : {}),
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('raw request timed out')), 15_000);
    // write, not end: a TLS half-close would end the server's side before it answers (the request says Connection: close)
    socket.on('secureConnect', () => socket.write(request));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (e) => (clearTimeout(timer), reject(e)));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      let body = text.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(head)) body = dechunk(body);
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), head, body });
    });
  });
}

export function dechunk(text: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', i);
    const size = parseInt(text.slice(i, eol), 16);
    if (!size) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}
