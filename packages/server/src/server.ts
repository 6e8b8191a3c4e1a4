import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { HarperConfig, ListenerLimits, MtlsConfig } from '@harper-tls/config';
import type { Logger } from './logger.js';
import { TlsContextSet } from './tls/context-set.js';
import { listen, listenSocket, closeGracefully } from './http/listen.js';
import { sendJson, readJsonObject, BodyError } from './http/respond.js';
import { requestId } from './http/request-id.js';
import { applyCors, corsPolicy, type CorsPolicy } from './http/cors.js';
import { applyForwardingPolicy } from './http/forwarding-policy.js';
import { clientAddress } from './http/client-address.js';
import { canonicalPath, ENCODED_SEPARATOR } from './http/canonical-path.js';
import { writeRaw } from './applications/proxy.js';
import type { Caller, OperationHandler, OperationResult } from './operations/types.js';
import type { Applications, AppRequestContext } from './applications/router.js';

/** Outcome of authenticating one request (the shape @harper-tls/mtls-auth returns). */
export type AuthOutcome =
  | {
      ok: true;
      user: { username: string; role: string };
      method: 'mtls' | 'basic' | 'jwt' | 'local';
      /** The verified leaf when it came in a trusted proxy's forwarded-certificate header (not the TCP peer's certificate). */
      forwardedCertificate?: X509Certificate;
    }
  | { ok: false; status: number; error: string; reason?: string };

export type Authenticate = (req: IncomingMessage) => Promise<AuthOutcome>;

/** What a route may need of the listener it runs on. */
export interface RouteContext {
  listener: ListenerName;
  /**
   * Authenticates this request like the listener's other endpoints (mTLS, Basic, JWT); memoized
   * per request. When the route then answers 401, the server logs the refusal (once).
   */
  authenticate: () => Promise<AuthOutcome>;
}

/** A route outside the fixed ones (e.g. the local CA's CRL and OCSP, /metrics); returns false when it does not handle the path. */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL, ctx: RouteContext) => Promise<boolean> | boolean;

export type ListenerName = 'http' | 'https' | 'operations' | 'operations-secure' | 'operations-socket';

export interface ListenerPlan {
  name: ListenerName;
  api: 'app' | 'operations';
  /** TCP port (0: any free one); ignored when `socketPath` is set. */
  port: number;
  /** A Unix domain socket instead of a port (`operationsApi.network.domainSocket`). */
  socketPath?: string;
  /** Present for the secure listeners. */
  tls?: { contexts: TlsContextSet; mtls: MtlsConfig | false };
  authenticate: Authenticate;
  /** CORS of this API (`cors` + `corsAccessList`); absent when off. */
  cors?: CorsPolicy;
  /** Timeouts and header limits (`keepAliveTimeout`, `headersTimeout`, `timeout`, `maxHeaderSize`); absent: Node's defaults, no inactivity timeout. */
  limits?: ListenerLimits;
  /** Secure listeners: ALPN offers `h2` besides `http/1.1` (`http.http2`). Default false. */
  http2?: boolean;
}

export interface HarperServerOptions {
  logger: Logger;
  listeners: ListenerPlan[];
  /** Operation families tried in order. */
  operations: OperationHandler[];
  /** Extra routes on the application listeners. */
  appRoutes?: ExtraRoute[];
  /** Extra routes on the Operations API listeners (GET only; POST / is the operations endpoint). */
  operationsRoutes?: ExtraRoute[];
  /** Bind address; default all interfaces. */
  host?: string;
  /** Operations request body limit in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** How long close() waits for in-flight requests, ms. Default 5000. */
  closeGraceMs?: number;
  /** The user's applications (SPEC.md section 6) on the application listeners, after the server's own paths. */
  applications?: Applications;
  /** Extra fields of `GET /health` (a cluster node: `cluster: "ok" | "degraded"`). */
  health?: () => Record<string, unknown>;
  /**
   * TLS session ticket keys (48 bytes) of every secure listener, kept through every certificate
   * change (`setSecureContext`), so tickets stay valid across processes that share them (the
   * workers). Default: Node's random keys per context. Set here, not with `setTicketKeys()`:
   * that changes only the current context, and the next certificate change would drop them.
   */
  ticketKeys?: Buffer;
}

export interface ListeningInfo {
  name: ListenerName;
  port: number;
  /** The address actually bound, as the OS reports it: `::` or `0.0.0.0` mean every interface. */
  address: string;
  /** A URL that reaches it: `localhost` when bound to every interface, else the bound address. */
  url: string;
}

const NOT_FOUND = { error: 'Not found' };

/**
 * The harper-tls HTTP(S) server. Building it opens nothing; `listen()` binds the planned
 * ports, `close()` stops them gracefully. Handlers are exposed for tests without ports.
 */
export class HarperServer {
  readonly #opts: HarperServerOptions;
  readonly #servers = new Map<ListenerName, http.Server | https.Server | http2.Http2SecureServer>();
  /** Per secure server: open HTTP/2 sessions and HTTP/1.1 sockets (with their in-flight count), for a graceful close. */
  readonly #secureConnections = new Map<http2.Http2SecureServer, { sessions: Set<http2.ServerHttp2Session>; http1: Map<Socket, number> }>();
  /** Every raw connection of each server (TCP, TLS, upgraded), destroyed when the close grace period ends. */
  readonly #sockets = new Map<object, Set<Socket>>();
  #info: ListeningInfo[] = [];

  constructor(opts: HarperServerOptions) {
    this.#opts = opts;
    for (const plan of opts.listeners) this.#servers.set(plan.name, this.#track(this.#createServer(plan)));
  }

  #track<S extends http.Server | https.Server | http2.Http2SecureServer>(server: S): S {
    const sockets = new Set<Socket>();
    const add = (socket: Socket) => {
      if (sockets.has(socket)) return;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };
    server.on('connection', add);
    if ('setSecureContext' in server) server.on('secureConnection', add); // TLS: the TLS socket over the TCP one
    this.#sockets.set(server, sockets);
    return server;
  }

  get listening(): ListeningInfo[] {
    return this.#info;
  }

  /**
   * The Node server of a listener: `http.Server` for plain ones; for secure ones `https.Server`
   * (HTTP/1.1 only, the default) or, with `http2`, `Http2SecureServer` (HTTP/2 and HTTP/1.1 by ALPN).
   */
  server(name: ListenerName): http.Server | https.Server | http2.Http2SecureServer | undefined {
    return this.#servers.get(name);
  }

  async listen(): Promise<ListeningInfo[]> {
    const info: ListeningInfo[] = [];
    try {
      for (const plan of this.#opts.listeners) {
        const server = this.#servers.get(plan.name)!;
        if (plan.socketPath !== undefined) {
          await listenSocket(server, plan.socketPath, `${plan.name} listener`);
          info.push({ name: plan.name, port: 0, address: plan.socketPath, url: `unix:${plan.socketPath}` });
          continue;
        }
        const port = await listen(server, plan.port, this.#opts.host, `${plan.name} listener`);
        const address = (server.address() as { address?: string } | null)?.address ?? this.#opts.host ?? '::';
        const host = address === '0.0.0.0' || address === '::' ? 'localhost' : address;
        const scheme = plan.tls ? 'https' : 'http';
        info.push({ name: plan.name, port, address, url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/` });
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#info = info;
    return info;
  }

  async close(): Promise<void> {
    const grace = this.#opts.closeGraceMs ?? 5000;
    await Promise.all(
      [...this.#servers.values()].map((s) => {
        const leftovers = () => {
          for (const socket of this.#sockets.get(s) ?? []) socket.destroy();
        };
        const conns = this.#secureConnections.get(s as http2.Http2SecureServer);
        if (!conns) return closeGracefully(s as http.Server, grace, leftovers);
        // HTTP/2: GOAWAY lets open streams finish; idle HTTP/1.1 keep-alive sockets close now, busy ones after their response.
        return closeGracefully(
          Object.assign(s, {
            closeIdleConnections: () => {
              for (const session of conns.sessions) session.close();
              for (const [socket, busy] of conns.http1) if (busy === 0) socket.destroy();
            },
            closeAllConnections: () => {
              for (const session of conns.sessions) session.destroy();
              for (const socket of conns.http1.keys()) socket.destroy();
            },
          }) as unknown as http.Server,
          grace,
          leftovers,
        );
      }),
    );
    this.#info = [];
  }

  #createServer(plan: ListenerPlan): http.Server | https.Server | http2.Http2SecureServer {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      applyForwardingPolicy(req); // SPEC.md section 7: untrusted forwarded headers go before anything reads them
      const id = requestId(req);
      this.#handle(plan, req, res, id).catch((err) => {
        this.#opts.logger.error({ err, reqId: id, listener: plan.name, url: req.url }, 'request failed');
        sendJson(res, 500, { error: 'Internal server error' }, { 'x-request-id': id });
      });
    };
    const limits = nodeLimits(plan.limits);
    const withUpgrades = <S extends http.Server | https.Server | http2.Http2SecureServer>(server: S): S => {
      // --- applications (issue 12): WebSocket upgrades to upstream entries; nothing else listens for upgrades.
      if (plan.api === 'app' && this.#opts.applications) {
        server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
          // Node dropped its own timeout handling with the upgrade: `timeout` is now the tunnel's idle timeout.
          if (limits.timeout > 0) socket.setTimeout(limits.timeout, () => socket.destroy());
          if (/^\s*websocket\s*$/i.test(String(req.headers.upgrade ?? ''))) return this.#upgrade(plan, req, socket, head);
          // Any other upgrade (h2c from curl --http2 on plain HTTP) is answered as the plain HTTP/1.1 request it also is, then closed.
          // Node took its own 'error' listener off the upgraded socket: without one, a client that resets the
          // connection before the answer is written would crash the process. The socket is destroyed when done.
          socket.on('error', () => socket.destroy());
          const res = new http.ServerResponse(req);
          res.shouldKeepAlive = false;
          res.assignSocket(socket);
          res.once('finish', () => socket.destroySoon());
          res.once('close', () => socket.destroy());
          handler(req, res);
        });
      }
      return server;
    };
    if (!plan.tls) {
      const plain = http.createServer(limits, handler);
      plain.timeout = limits.timeout;
      return withUpgrades(plain);
    }
    const { contexts, mtls } = plan.tls;
    const ticketKeys = this.#opts.ticketKeys;
    // SNI contexts need none: OpenSSL issues and decrypts tickets with the listener's initial context.
    const withKeys = (opts: SecureContextOptions): SecureContextOptions => (ticketKeys ? { ...opts, ticketKeys } : opts);
    const tlsOptions = {
      ...withKeys(contexts.defaultOptions()),
      SNICallback: contexts.sniCallback,
      requestCert: mtls !== false,
      rejectUnauthorized: mtls !== false && mtls.required,
    };
    const onTlsError = (err: Error, socket: TLSSocket) => {
      this.#opts.logger.debug({ listener: plan.name, remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
    };
    if (!plan.http2) {
      // http.http2 off (the default): HTTP/1.1 only; ALPN offers nothing else (Http2SecureServer always adds h2).
      const h1 = https.createServer({ ...tlsOptions, ...limits, ALPNProtocols: ['http/1.1'] }, handler);
      Object.assign(h1, limits);
      contexts.onUpdate((opts) => h1.setSecureContext(withKeys(opts)));
      h1.on('tlsClientError', onTlsError);
      return withUpgrades(h1);
    }
    // HTTP/2 and HTTP/1.1 on the same port, chosen by ALPN (h2 preferred).
    const server = http2.createSecureServer(
      {
        ...tlsOptions,
        allowHTTP1: true,
        settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS, ...(plan.limits?.maxHeaderSize !== undefined ? { maxHeaderListSize: plan.limits.maxHeaderSize } : {}) },
      },
      handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    // The HTTP/1.1 side of an Http2SecureServer reads these from the server object (connectionsCheckingInterval on 'listening').
    Object.assign(server, limits);
    contexts.onUpdate((opts) => server.setSecureContext(withKeys(opts)));
    const conns = { sessions: new Set<http2.ServerHttp2Session>(), http1: new Map<Socket, number>() };
    this.#secureConnections.set(server, conns);
    // A stream without activity for `timeout` is reset, as an HTTP/1.1 socket is closed; no `timeout`
    // (0: a programmatic server without limits), no inactivity timeout, as on HTTP/1.1.
    if (limits.timeout > 0) {
      server.on('stream', (stream: http2.ServerHttp2Stream) => {
        stream.setTimeout(limits.timeout, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      });
    }
    server.on('session', (session: http2.ServerHttp2Session) => {
      conns.sessions.add(session);
      session.once('close', () => conns.sessions.delete(session));
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') return;
      conns.http1.set(socket, 0);
      socket.once('close', () => conns.http1.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.httpVersionMajor !== 1) return;
      const socket = req.socket;
      conns.http1.set(socket, (conns.http1.get(socket) ?? 0) + 1);
      res.once('close', () => {
        if (conns.http1.has(socket)) conns.http1.set(socket, Math.max(0, conns.http1.get(socket)! - 1));
      });
    });
    server.on('tlsClientError', onTlsError);
    return withUpgrades(server);
  }

  /**
   * One request. The request id goes into `writeHead` with the other headers of the JSON answers
   * (a `setHeader` first makes Node merge header objects on every response); extra routes, which
   * write their own responses, get it through `setHeader` before they run.
   */
  async #handle(plan: ListenerPlan, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    // Routing, authorization and forwarding all see the canonical path (SPEC decisions: path canonicalization).
    const canonical = canonicalPath(req.url ?? '/');
    if (!canonical.ok) return sendJson(res, 400, { error: canonical.error }, { 'x-request-id': id });
    const pathname = canonical.pathname;
    // --- CORS (issue 18): only listeners with cors on, only requests that carry Origin.
    if (plan.cors !== undefined) {
      const origin = req.headers.origin;
      if (origin !== undefined && applyCors(plan.cors, req, res, origin)) return;
    }
    // --- end CORS
    // No per-request logger.child(): most requests log nothing, and a child costs ~3 µs. Lines
    // carry { reqId, listener } explicitly instead.
    if (pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      return sendJson(res, 200, { status: 'ok', ...this.#opts.health?.() }, { 'x-request-id': id });
    }
    if (plan.api === 'app') return this.#handleApp(plan, req, res, pathname, id, canonical.encodedSeparator);
    return this.#handleOperations(plan, req, res, pathname, id);
  }

  /**
   * The audit line of a refused request (401): exactly one per request, written here and only
   * here (the authenticator gets no logger), with the reason, the request id and the remote
   * address. Never credentials: `reason` is a fixed phrase from the authenticator or operation.
   */
  #logRefusal(plan: ListenerPlan, req: IncomingMessage, reqId: string, reason: string | undefined, extra?: object): void {
    this.#opts.logger.info({ reqId, listener: plan.name, remote: clientAddress(req), reason: reason ?? 'unspecified', ...extra }, 'authentication failed');
  }

  /** Runs the extra routes; a route that answers 401 after a failed `ctx.authenticate()` gets the refusal logged once. */
  async #routes(routes: ExtraRoute[], plan: ListenerPlan, req: IncomingMessage, res: ServerResponse, reqId: string, pathname: string): Promise<boolean> {
    if (routes.length === 0) return false;
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== pathname) url.pathname = pathname; // the canonical path; the setter re-parses
    if (!res.headersSent) res.setHeader('x-request-id', reqId);
    let auth: Promise<AuthOutcome> | undefined;
    const ctx: RouteContext = { listener: plan.name, authenticate: () => (auth ??= plan.authenticate(req)) };
    for (const route of routes) {
      if (!(await route(req, res, url, ctx))) continue;
      if (auth && res.statusCode === 401) {
        const outcome = await auth;
        if (!outcome.ok) this.#logRefusal(plan, req, reqId, outcome.reason, { path: url.pathname });
      }
      return true;
    }
    return false;
  }

  async #handleApp(plan: ListenerPlan, req: IncomingMessage, res: ServerResponse, pathname: string, reqId: string, encodedSeparator: boolean): Promise<void> {
    if (pathname === '/whoami' && req.method === 'GET') {
      const auth = await plan.authenticate(req);
      if (!auth.ok) {
        this.#logRefusal(plan, req, reqId, auth.reason, { path: '/whoami' });
        return sendJson(res, auth.status, { error: auth.error }, { 'x-request-id': reqId });
      }
      return sendJson(res, 200, { username: auth.user.username, role: auth.user.role, authenticatedBy: auth.method }, { 'x-request-id': reqId });
    }
    if (await this.#routes(this.#opts.appRoutes ?? [], plan, req, res, reqId, pathname)) return;
    // The server's own paths above take an encoded `/` (an OCSP GET); an application never does.
    if (this.#opts.applications && encodedSeparator) return sendJson(res, 400, { error: ENCODED_SEPARATOR }, { 'x-request-id': reqId });
    if (this.#opts.applications && (await this.#opts.applications.handle(req, res, pathname, this.#appContext(plan, req, reqId, pathname)))) return;
    sendJson(res, 404, NOT_FOUND, { 'x-request-id': reqId });
  }

  /** What an application needs of this request (issue 12): authentication memoized, the refusal logged once. */
  #appContext(plan: ListenerPlan, req: IncomingMessage, reqId: string, path: string): AppRequestContext {
    let auth: Promise<AuthOutcome> | undefined;
    return {
      secure: plan.tls !== undefined,
      reqId,
      authenticate: () => (auth ??= plan.authenticate(req)),
      refused: (reason) => this.#logRefusal(plan, req, reqId, reason, { path }),
    };
  }

  #upgrade(plan: ListenerPlan, req: IncomingMessage, socket: Socket, head: Buffer): void {
    applyForwardingPolicy(req);
    const id = requestId(req);
    const canonical = canonicalPath(req.url ?? '/');
    if (!canonical.ok || canonical.encodedSeparator) {
      socket.on('error', () => socket.destroy());
      return writeRaw(socket, 400, { error: canonical.ok ? ENCODED_SEPARATOR : canonical.error }, id);
    }
    const pathname = canonical.pathname;
    this.#opts.applications!.upgrade(req, socket, head, pathname, this.#appContext(plan, req, id, pathname)).catch((err) => {
      this.#opts.logger.error({ err, reqId: id, listener: plan.name, url: req.url }, 'upgrade failed');
      socket.destroy();
    });
  }

  async #handleOperations(plan: ListenerPlan, req: IncomingMessage, res: ServerResponse, pathname: string, reqId: string): Promise<void> {
    res.setHeader('x-request-id', reqId);
    if (req.method !== 'POST' || pathname !== '/') {
      if (await this.#routes(this.#opts.operationsRoutes ?? [], plan, req, res, reqId, pathname)) return;
      return sendJson(res, 404, NOT_FOUND);
    }
    // A browser (it sends Origin) must send JSON as JSON: a text/plain or form POST needs no CORS
    // preflight, so a cross-site page could otherwise run an operation with the browser's credentials.
    if (req.headers.origin !== undefined && !isJsonContentType(req.headers['content-type'])) {
      return sendJson(res, 415, { error: 'a request with an Origin header needs Content-Type: application/json' });
    }
    let body: Record<string, unknown>;
    try {
      body = await readJsonObject(req, this.#opts.bodyLimit ?? 1024 * 1024);
    } catch (err) {
      if (err instanceof BodyError) return sendJson(res, err.status, { error: err.message });
      throw err;
    }
    const operation = body.operation;
    if (typeof operation !== 'string' || operation.length === 0) {
      return sendJson(res, 400, { error: 'the request body needs an "operation" field (a string)' });
    }
    const auth = await plan.authenticate(req);
    let caller: Caller | undefined;
    if (auth.ok) caller = { username: auth.user.username, role: auth.user.role, method: auth.method };
    else if (!ANONYMOUS_OPERATIONS.has(operation)) {
      this.#logRefusal(plan, req, reqId, auth.reason, { operation });
      return sendJson(res, auth.status, { error: auth.error });
    }
    const result = await this.#dispatch(body, caller);
    if (!result) return sendJson(res, 404, { error: `Unknown operation '${operation.slice(0, 100)}'` });
    if (result.status === 401) {
      // An operation carrying its own credentials (create_authentication_tokens, refresh_operation_token) refused them.
      this.#logRefusal(plan, req, reqId, result.reason ?? (auth.ok ? undefined : auth.reason), { operation });
    } else {
      this.#opts.logger.info({ reqId, listener: plan.name, operation, user: caller?.username, status: result.status }, 'operation');
    }
    sendJson(res, result.status, result.body);
  }

  async #dispatch(body: Record<string, unknown>, caller: Caller | undefined): Promise<OperationResult | undefined> {
    for (const handler of this.#opts.operations) {
      const result = await handler(body, caller);
      if (result) return result;
    }
    return undefined;
  }
}

/** SETTINGS_MAX_CONCURRENT_STREAMS of an HTTP/2 session (Node's default is 2^32-1; nginx's 128): more are refused (REFUSED_STREAM). */
const HTTP2_MAX_CONCURRENT_STREAMS = 100;

/** Node's defaults for what is not configured (SPEC.md section 11: "Node's"), and `timeout` 120000 ms. */
const NODE_KEEP_ALIVE_MS = 5_000;
const NODE_HEADERS_TIMEOUT_MS = 60_000;
/** How long a whole request may take to arrive (Node's requestTimeout); at least the headers timeout. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Node checks headersTimeout/requestTimeout on this interval (its default is 30 s): SPEC.md section 11 wants them enforced within 1 s. */
const CONNECTIONS_CHECKING_MS = 500;

/**
 * Node closes an idle keep-alive socket 1000 ms after `keepAliveTimeout` (a buffer so clients, told
 * `Keep-Alive: timeout=N`, stop reusing it first). Half of that comes off what Node is given, so
 * the socket closes within 0.5 s after the configured time and clients are told slightly less.
 */
const KEEP_ALIVE_BUFFER_SHARE_MS = 500;

function nodeLimits(l: ListenerLimits | undefined) {
  const headersTimeout = l?.headersTimeout ?? NODE_HEADERS_TIMEOUT_MS;
  const keepAlive = l?.keepAliveTimeout ?? NODE_KEEP_ALIVE_MS;
  return {
    keepAliveTimeout: keepAlive > KEEP_ALIVE_BUFFER_SHARE_MS ? keepAlive - KEEP_ALIVE_BUFFER_SHARE_MS : keepAlive,
    headersTimeout,
    requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout),
    connectionsCheckingInterval: CONNECTIONS_CHECKING_MS,
    timeout: l?.timeout ?? 0,
    ...(l?.maxHeaderSize !== undefined ? { maxHeaderSize: l.maxHeaderSize } : {}),
  };
}

/** `application/json`, with any parameters (`; charset=utf-8`). */
function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && value.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Operations that carry their own credentials in the body. */
const ANONYMOUS_OPERATIONS = new Set(['create_authentication_tokens', 'refresh_operation_token']);

/** Plans the listeners a configuration asks for. Certificates and authentication come from the caller. */
export function planListeners(
  config: HarperConfig,
  parts: {
    appContexts?: TlsContextSet;
    operationsContexts?: TlsContextSet;
    /** `via: 'socket'` for the Operations API's domain socket. */
    authenticate: (api: 'app' | 'operations', secure: boolean, via?: 'socket') => Authenticate;
  },
): ListenerPlan[] {
  const plans: ListenerPlan[] = [];
  const { http: app, operationsApi } = config;
  const ops = operationsApi.network;
  const appCors = corsPolicy(app.cors, 'app');
  const opsCors = corsPolicy(ops.cors, 'operations');
  const appExtra = { cors: appCors, limits: app.limits };
  const opsExtra = { cors: opsCors, limits: ops.limits };
  if (app.port !== null) plans.push({ name: 'http', api: 'app', port: app.port, authenticate: parts.authenticate('app', false), ...appExtra });
  if (app.securePort !== null) {
    plans.push({ name: 'https', api: 'app', port: app.securePort, tls: { contexts: parts.appContexts!, mtls: app.mtls }, authenticate: parts.authenticate('app', true), ...appExtra, http2: app.http2 });
  }
  if (ops.port !== null) plans.push({ name: 'operations', api: 'operations', port: ops.port, authenticate: parts.authenticate('operations', false), ...opsExtra });
  if (ops.securePort !== null) {
    plans.push({
      name: 'operations-secure',
      api: 'operations',
      port: ops.securePort,
      tls: { contexts: parts.operationsContexts!, mtls: ops.mtls },
      authenticate: parts.authenticate('operations', true),
      ...opsExtra, // the Operations API stays HTTP/1.1 (no http2)
    });
  }
  if (ops.domainSocket !== null) {
    plans.push({ name: 'operations-socket', api: 'operations', port: 0, socketPath: ops.domainSocket, authenticate: parts.authenticate('operations', false, 'socket'), ...opsExtra });
  }
  return plans;
}
