import type { Server, Socket } from 'node:net';
import type { TrustedProxies } from '@harper-tls/mtls-auth';
import { parseProxyHeader, type ProxyHeader } from './parse.js';

/** Where the PROXY header of a connection is kept: on the TCP socket (a TLSSocket reaches it as `_parent`). */
const PROXY_INFO = Symbol.for('harper-tls.proxy-protocol');

/** SPEC.md section 7: the header must arrive within 5 s and in at most 536 bytes. */
export const PROXY_HEADER_TIMEOUT_MS = 5_000;
export const PROXY_HEADER_MAX_BYTES = 536;

export interface ProxyProtocolOptions {
  proxies: TrustedProxies;
  /** Default 5000. */
  timeoutMs?: number;
  /** Default 536. */
  maxBytes?: number;
  /** Called once per refused connection: `untrusted` peer, `invalid` header (with the parser's reason), `timeout`. */
  onRefused?: (why: 'untrusted' | 'invalid' | 'timeout', remote: string | undefined, detail?: string) => void;
}

/** The PROXY header the connection of `socket` began with (`socket` a TCP or TLS socket, or HTTP/2's proxy of one). */
export function proxyHeaderOf(socket: object | undefined | null): ProxyHeader | undefined {
  if (!socket) return undefined;
  const s = socket as { [PROXY_INFO]?: ProxyHeader; _parent?: { [PROXY_INFO]?: ProxyHeader } };
  return s[PROXY_INFO] ?? s._parent?.[PROXY_INFO];
}

/**
 * Puts PROXY protocol (v1 and v2) in front of a Node server (http, https or http2): every
 * connection must come from a trusted proxy and begin with a header; the server's own connection
 * handling (the TLS handshake for https) starts only after it, on the same socket, with whatever
 * followed the header. A peer outside `proxies`, a malformed header, more than `maxBytes` or more
 * than `timeoutMs` without a complete header: that connection is destroyed and nothing is served
 * on it; other connections are not affected.
 */
export function installProxyProtocol(server: Server, opts: ProxyProtocolOptions): void {
  const timeoutMs = opts.timeoutMs ?? PROXY_HEADER_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? PROXY_HEADER_MAX_BYTES;
  const inner = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  // TLS servers read bytes already buffered on the socket when they wrap it; plain HTTP must be resumed.
  const tls = typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function';

  // Connections still waiting for their header are not the HTTP server's yet, so its
  // closeAllConnections() cannot see them: close() ends them itself.
  const pending = new Set<Socket>();
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of pending) s.destroy();
    pending.clear();
    return close(cb);
  }) as typeof server.close;

  server.on('connection', (socket: Socket) => {
    const remote = socket.remoteAddress;
    if (!opts.proxies.contains(remote)) {
      opts.onRefused?.('untrusted', remote);
      socket.destroy();
      return;
    }
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    pending.add(socket);
    const finish = () => {
      done = true;
      pending.delete(socket);
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
    };
    const refuse = (why: 'invalid' | 'timeout', detail?: string) => {
      if (done) return;
      finish();
      opts.onRefused?.(why, remote, detail);
      socket.destroy();
    };
    const timer = setTimeout(() => refuse('timeout', `no complete PROXY header within ${timeoutMs} ms`), timeoutMs);
    timer.unref();
    const onError = () => refuse('invalid', 'connection error before the PROXY header');
    const onEnd = () => refuse('invalid', 'connection closed before the PROXY header was complete');
    const onData = (chunk: Buffer) => {
      if (done) return;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parseProxyHeader(buf.length > maxBytes ? buf.subarray(0, maxBytes) : buf, maxBytes);
      if (r.status === 'incomplete') {
        if (buf.length >= maxBytes) refuse('invalid', `no complete PROXY header in ${maxBytes} bytes`);
        return;
      }
      if (r.status === 'invalid') return refuse('invalid', r.reason);
      finish();
      socket.pause();
      (socket as Socket & { [PROXY_INFO]?: ProxyHeader })[PROXY_INFO] = r.header;
      const rest = buf.subarray(r.length);
      if (rest.length) socket.unshift(rest);
      for (const l of inner) l.call(server, socket);
      if (!tls) socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
  });
}
