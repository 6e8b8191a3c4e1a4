import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { HarperConfig, MtlsConfig } from '@harper-tls/config';
import type { Logger } from './logger.js';
import { TlsContextSet } from './tls/context-set.js';
import { listen, closeGracefully } from './http/listen.js';
import { sendJson, readJsonObject, BodyError } from './http/respond.js';
import { requestId } from './http/request-id.js';
import type { Caller, OperationHandler, OperationResult } from './operations/types.js';

/** Outcome of authenticating one request (the shape @harper-tls/mtls-auth returns). */
export type AuthOutcome =
  | { ok: true; user: { username: string; role: string }; method: 'mtls' | 'basic' | 'jwt' }
  | { ok: false; status: number; error: string; reason?: string };

export type Authenticate = (req: IncomingMessage) => Promise<AuthOutcome>;

/** A route outside the fixed ones (e.g. the local CA's CRL and OCSP); returns false when it does not handle the path. */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

export type ListenerName = 'http' | 'https' | 'operations' | 'operations-secure';

export interface ListenerPlan {
  name: ListenerName;
  api: 'app' | 'operations';
  port: number;
  /** Present for the secure listeners. */
  tls?: { contexts: TlsContextSet; mtls: MtlsConfig | false };
  authenticate: Authenticate;
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
}

export interface ListeningInfo {
  name: ListenerName;
  port: number;
  url: string;
}

const NOT_FOUND = { error: 'Not found' };

/**
 * The harper-tls HTTP(S) server. Building it opens nothing; `listen()` binds the planned
 * ports, `close()` stops them gracefully. Handlers are exposed for tests without ports.
 */
export class HarperServer {
  readonly #opts: HarperServerOptions;
  readonly #servers = new Map<ListenerName, http.Server>();
  #info: ListeningInfo[] = [];

  constructor(opts: HarperServerOptions) {
    this.#opts = opts;
    for (const plan of opts.listeners) this.#servers.set(plan.name, this.#createServer(plan));
  }

  get listening(): ListeningInfo[] {
    return this.#info;
  }

  server(name: ListenerName): http.Server | undefined {
    return this.#servers.get(name);
  }

  async listen(): Promise<ListeningInfo[]> {
    const info: ListeningInfo[] = [];
    try {
      for (const plan of this.#opts.listeners) {
        const server = this.#servers.get(plan.name)!;
        const port = await listen(server, plan.port, this.#opts.host, `${plan.name} listener`);
        const host = this.#opts.host && this.#opts.host !== '0.0.0.0' && this.#opts.host !== '::' ? this.#opts.host : 'localhost';
        const scheme = plan.tls ? 'https' : 'http';
        info.push({ name: plan.name, port, url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/` });
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
    await Promise.all([...this.#servers.values()].map((s) => closeGracefully(s, grace)));
    this.#info = [];
  }

  #createServer(plan: ListenerPlan): http.Server {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(plan, req, res).catch((err) => {
        this.#opts.logger.error({ err, listener: plan.name, url: req.url }, 'request failed');
        sendJson(res, 500, { error: 'Internal server error' });
      });
    };
    const common = { keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 60_000 };
    if (!plan.tls) return http.createServer(common, handler);
    const { contexts, mtls } = plan.tls;
    const server = https.createServer(
      {
        ...common,
        ...contexts.defaultOptions(),
        SNICallback: contexts.sniCallback,
        requestCert: mtls !== false,
        rejectUnauthorized: mtls !== false && mtls.required,
      },
      handler,
    );
    contexts.onUpdate((opts) => server.setSecureContext(opts));
    server.on('tlsClientError', (err, socket: TLSSocket) => {
      this.#opts.logger.debug({ listener: plan.name, remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
    });
    return server;
  }

  async #handle(plan: ListenerPlan, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = requestId(req);
    res.setHeader('x-request-id', id);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const log = this.#opts.logger.child({ reqId: id, listener: plan.name });
    if (url.pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      return sendJson(res, 200, { status: 'ok' });
    }
    if (plan.api === 'app') return this.#handleApp(plan, req, res, url, log);
    return this.#handleOperations(plan, req, res, url, log);
  }

  async #handleApp(plan: ListenerPlan, req: IncomingMessage, res: ServerResponse, url: URL, log: Logger): Promise<void> {
    if (url.pathname === '/whoami' && req.method === 'GET') {
      const auth = await plan.authenticate(req);
      if (!auth.ok) {
        log.info({ reason: auth.reason }, 'authentication failed');
        return sendJson(res, auth.status, { error: auth.error });
      }
      return sendJson(res, 200, { username: auth.user.username, role: auth.user.role, authenticatedBy: auth.method });
    }
    for (const route of this.#opts.appRoutes ?? []) if (await route(req, res, url)) return;
    sendJson(res, 404, NOT_FOUND);
  }

  async #handleOperations(plan: ListenerPlan, req: IncomingMessage, res: ServerResponse, url: URL, log: Logger): Promise<void> {
    if (req.method !== 'POST' || url.pathname !== '/') {
      for (const route of this.#opts.operationsRoutes ?? []) if (await route(req, res, url)) return;
      return sendJson(res, 404, NOT_FOUND);
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
      log.info({ operation, reason: auth.reason }, 'authentication failed');
      return sendJson(res, auth.status, { error: auth.error });
    }
    const result = await this.#dispatch(body, caller);
    if (!result) return sendJson(res, 404, { error: `Unknown operation '${operation.slice(0, 100)}'` });
    log.info({ operation, user: caller?.username, status: result.status }, 'operation');
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

/** Operations that carry their own credentials in the body. */
const ANONYMOUS_OPERATIONS = new Set(['create_authentication_tokens', 'refresh_operation_token']);

/** Plans the listeners a configuration asks for. Certificates and authentication come from the caller. */
export function planListeners(
  config: HarperConfig,
  parts: {
    appContexts?: TlsContextSet;
    operationsContexts?: TlsContextSet;
    authenticate: (api: 'app' | 'operations', secure: boolean) => Authenticate;
  },
): ListenerPlan[] {
  const plans: ListenerPlan[] = [];
  const { http: app, operationsApi } = config;
  if (app.port !== null) plans.push({ name: 'http', api: 'app', port: app.port, authenticate: parts.authenticate('app', false) });
  if (app.securePort !== null) {
    plans.push({ name: 'https', api: 'app', port: app.securePort, tls: { contexts: parts.appContexts!, mtls: app.mtls }, authenticate: parts.authenticate('app', true) });
  }
  const ops = operationsApi.network;
  if (ops.port !== null) plans.push({ name: 'operations', api: 'operations', port: ops.port, authenticate: parts.authenticate('operations', false) });
  if (ops.securePort !== null) {
    plans.push({
      name: 'operations-secure',
      api: 'operations',
      port: ops.securePort,
      tls: { contexts: parts.operationsContexts!, mtls: ops.mtls },
      authenticate: parts.authenticate('operations', true),
    });
  }
  return plans;
}
