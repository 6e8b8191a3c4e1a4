import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerResponse as NodeServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { Pool } from 'undici';
import type { UpstreamApplication } from '@harper-tls/config';
import { readPemSource } from '@harper-tls/config';
import { responseHeaders } from './identity-headers.js';
import { sendJson } from '../http/respond.js';

/** What the proxy needs besides the entry: the server's own CAs (`tls.certificateAuthority`) as the default trust for https upstreams. */
export interface ProxyOptions {
  serverCas: string[];
  logger: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  /** Connections per upstream at most; more requests wait for one. Default UPSTREAM_CONNECTIONS. */
  upstreamConnections?: number;
}

/**
 * Connections one upstream's pool opens at most (undici's default is no limit: every concurrent
 * request, e.g. each HTTP/2 stream, its own); Envoy's default circuit breaker is the same 1024.
 * A request beyond waits for a free connection, within the entry's `timeout` (then 504).
 */
export const UPSTREAM_CONNECTIONS = 1024;

const BAD_GATEWAY = { error: 'Bad gateway' };
const GATEWAY_TIMEOUT = { error: 'Gateway timeout' };

/** undici error codes that mean "no response headers in time". */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function tlsOptions(app: UpstreamApplication, serverCas: string[]) {
  const t = app.upstreamTls;
  const ca = t?.certificateAuthority ? [readPemSource(t.certificateAuthority, `${app.where.key}.upstreamTls.certificateAuthority`)] : [...rootCertificates, ...serverCas];
  return {
    ca,
    ...(t?.certificate && t.privateKey ? { cert: readPemSource(t.certificate, `${app.where.key}.upstreamTls.certificate`), key: readPemSource(t.privateKey, `${app.where.key}.upstreamTls.privateKey`) } : {}),
    ...(t?.servername ? { servername: t.servername } : {}),
    rejectUnauthorized: true,
  };
}

/**
 * One upstream: a keep-alive undici Pool, requests and responses streamed with backpressure both
 * ways, WebSocket upgrades handed over, errors mapped to 502/504, a client that goes away aborting
 * the upstream request (SPEC.md section 6). Modelled on @fastify/reply-from.
 */
export class UpstreamProxy {
  readonly #app: UpstreamApplication;
  readonly #pool: Pool;
  readonly #logger: ProxyOptions['logger'];

  constructor(app: UpstreamApplication, opts: ProxyOptions) {
    this.#app = app;
    this.#logger = opts.logger;
    const https = app.origin.startsWith('https:');
    this.#pool = new Pool(app.origin, {
      pipelining: 1,
      connections: opts.upstreamConnections ?? UPSTREAM_CONNECTIONS,
      headersTimeout: app.timeout,
      // A body may take as long as it takes; a stalled one still ends with the client's connection.
      bodyTimeout: 0,
      connectTimeout: Math.min(app.timeout, 10_000),
      ...(https ? { connect: tlsOptions(app, opts.serverCas) } : {}),
    });
  }

  /** Proxies one request; `path` is the upstream path with query, `headers` already stripped and set. */
  async request(req: IncomingMessage, res: ServerResponse, path: string, headers: string[], reqId: string): Promise<void> {
    const ac = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) ac.abort();
    };
    res.once('close', onClose);
    const method = req.method ?? 'GET';
    const h2 = (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream;
    const length = req.headers['content-length'];
    const hasBody = h2 ? !h2.endAfterHeaders : length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
    const opts = { path, method: method as 'GET', headers, body: hasBody ? req : null, signal: ac.signal };
    // undici's headersTimeout starts on a connection; a request waiting for one (the pool full) is
    // bounded by the same `timeout`, counted from here to the response headers.
    const waiting = headersDeadline(ac, this.#app.timeout, () => this.#failed(res, reqId, { message: 'no response headers in time', code: 'UND_ERR_HEADERS_TIMEOUT' }));
    try {
      const http1 = (res as object) instanceof NodeServerResponse;
      if (http1) {
        await this.#pool.stream(opts, ({ statusCode, headers: h }) => {
          waiting.done();
          res.writeHead(statusCode, responseHeaders(h as Record<string, string | string[]>));
          return res;
        });
      } else {
        // HTTP/2 responses are not stream.Writable: pipe the body instead.
        const up = await this.#pool.request(opts);
        waiting.done();
        res.writeHead(up.statusCode, responseHeaders(up.headers as Record<string, string | string[]>));
        await pipeline(up.body, res as unknown as NodeJS.WritableStream);
      }
    } catch (err) {
      // The client went away (the upstream request is aborted with it), or the deadline answered: nothing to do.
      if (ac.signal.aborted) return;
      this.#failed(res, reqId, err as Error & { code?: string });
    } finally {
      waiting.done();
      res.off('close', onClose);
    }
  }

  /** An upstream request that failed before or while answering: logged, then 502/504, or the response cut short. */
  #failed(res: ServerResponse, reqId: string, err: { message: string; code?: string }): void {
    const code = err.code ?? '';
    this.#logger.warn({ reqId, upstream: this.#app.origin, path: this.#app.path, err: err.message, code }, 'upstream request failed');
    if (res.headersSent) return void res.destroy();
    sendJson(res, TIMEOUT_CODES.has(code) ? 504 : 502, TIMEOUT_CODES.has(code) ? GATEWAY_TIMEOUT : BAD_GATEWAY, { 'x-request-id': reqId });
  }

  /** Hands a WebSocket upgrade over: the upstream's 101 goes back to the client, then bytes flow both ways. */
  async upgrade(socket: Duplex, head: Buffer, path: string, headers: string[], reqId: string): Promise<void> {
    const ac = new AbortController();
    const onClose = () => ac.abort();
    socket.once('close', onClose);
    let up: Awaited<ReturnType<Pool['upgrade']>>;
    const waiting = headersDeadline(ac, this.#app.timeout, () => {
      this.#logger.warn({ reqId, upstream: this.#app.origin, path: this.#app.path, err: 'no response headers in time', code: 'UND_ERR_HEADERS_TIMEOUT' }, 'upstream upgrade failed');
      writeRaw(socket, 504, GATEWAY_TIMEOUT, reqId);
    });
    try {
      up = await this.#pool.upgrade({ path, method: 'GET', headers, protocol: 'websocket', signal: ac.signal });
      waiting.done();
    } catch (err) {
      waiting.done();
      socket.off('close', onClose);
      if (ac.signal.aborted) return;
      const code = (err as { code?: string }).code ?? '';
      this.#logger.warn({ reqId, upstream: this.#app.origin, path: this.#app.path, err: (err as Error).message, code }, 'upstream upgrade failed');
      return writeRaw(socket, TIMEOUT_CODES.has(code) ? 504 : 502, TIMEOUT_CODES.has(code) ? GATEWAY_TIMEOUT : BAD_GATEWAY, reqId);
    }
    socket.off('close', onClose);
    const upstream = up.socket;
    const lines = ['HTTP/1.1 101 Switching Protocols'];
    for (const [k, v] of Object.entries(up.headers)) for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) lines.push(`${k}: ${one}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.pipe(socket);
    socket.pipe(upstream);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * No response headers within `ms`: `expired`, `ac` aborted and `onExpire()` called at once. undici
 * settles a request still queued for a connection only once it is dispatched, so the answer (504)
 * cannot wait for the request's own rejection. `done()` when the headers came.
 */
function headersDeadline(ac: AbortController, ms: number, onExpire: () => void): { readonly expired: boolean; done(): void } {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    ac.abort();
    onExpire();
  }, ms);
  return {
    get expired() {
      return expired;
    },
    done: () => clearTimeout(timer),
  };
}

/** A JSON answer written straight to a socket (an upgrade request has no ServerResponse). */
export function writeRaw(socket: Duplex, status: number, body: object, reqId: string): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 504: 'Gateway Timeout' }[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nx-request-id: ${reqId}\r\nconnection: close\r\n\r\n${text}`);
}
