import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ApplicationConfig, ModuleApplication, UpstreamApplication } from '@harper-tls/config';
import type { AuthOutcome } from '../server.js';
import { clientAddress } from '../http/client-address.js';
import { forwardedCertificateHeader, forwardedForChain, forwardedHeadersTrusted } from '../http/forwarding-policy.js';
import { sendJson } from '../http/respond.js';
import { forwardHeaders, headersObject, requestHost, type VerifiedIdentity } from './identity-headers.js';
import { describeClientCertificate, peerCertificate } from './identity.js';
import { loadModule, runFetch, runListener, type LoadedModule, type ModuleContext } from './module.js';
import { UpstreamProxy, writeRaw, type ProxyOptions } from './proxy.js';

/** What the server hands the applications for one request on an application listener. */
export interface AppRequestContext {
  secure: boolean;
  reqId: string;
  /** The listener's authentication (mTLS, Basic, JWT), memoized per request. */
  authenticate(): Promise<AuthOutcome>;
  /** Writes the one audit line of a refused request. */
  refused(reason: string | undefined): void;
}

export interface Applications {
  /** The entry a path reaches, if any. */
  match(pathname: string): ApplicationConfig | undefined;
  /** Answers the request when an entry matches `pathname`; false when none does. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string, ctx: AppRequestContext): Promise<boolean>;
  /** An HTTP/1.1 upgrade request (WebSocket): proxied to an upstream entry, refused otherwise. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pathname: string, ctx: AppRequestContext): Promise<void>;
  /** Awaits every module's close() and closes the upstream pools. */
  close(): Promise<void>;
}

/**
 * The entry with the longest `path` that is `pathname` itself or a prefix of it ending at a `/`
 * boundary (`/api` serves `/api` and `/api/x`, never `/apix`); `/` matches everything.
 */
export function matchApplication<T extends { path: string }>(apps: readonly T[], path: string): T | undefined {
  let best: T | undefined;
  const pathname = withoutParams(path);
  for (const a of apps) {
    const p = a.path;
    const hit = p === '/' || pathname === p || (pathname.startsWith(p) && pathname.charCodeAt(p.length) === 47);
    if (hit && (!best || p.length > best.path.length)) best = a;
  }
  return best;
}

/**
 * A path without the `;` parameters of its segments, which Java servlet containers drop before
 * routing (`/admin;x=1/users` is their `/admin/users`): entries are matched on this form, so such
 * a path gets the `/admin` entry's authentication. The path is forwarded as it came.
 */
function withoutParams(pathname: string): string {
  return pathname.includes(';') ? pathname.replace(/;[^/]*/g, '') : pathname;
}

/** The path an entry hands on: without its prefix when `stripPrefix`, always starting with `/`. */
export function innerPath(app: ApplicationConfig, pathname: string): string {
  if (!app.stripPrefix || app.path === '/') return pathname;
  // The prefix matched without `;` parameters: drop as many whole segments as it has.
  if (pathname.includes(';')) return `/${pathname.split('/').slice(app.path.split('/').length).join('/')}`;
  const rest = pathname.slice(app.path.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The server's own paths (SPEC.md section 6): never an application's, whatever the method. */
export function isServerPath(path: string): boolean {
  const pathname = withoutParams(path);
  return pathname === '/health' || pathname === '/whoami' || pathname === '/metrics' || pathname === '/ca' || pathname.startsWith('/ca/');
}

type Gate = { ok: true; identity: VerifiedIdentity } | { ok: false; status: number; body: object };

/**
 * Whether the request presented a client certificate, as the authenticator sees it: through a
 * trusted proxy with `http.mtls.forwardedCertificate`, the forwarded header (a non-empty value,
 * or several copies); otherwise the connection's own certificate, which is then the client's.
 */
function certificatePresented(req: IncomingMessage, secure: boolean): boolean {
  const header = forwardedCertificateHeader(req);
  if (header !== undefined && forwardedHeadersTrusted(req)) {
    const v = req.headers[header];
    return v !== undefined && String(v).trim() !== '';
  }
  return secure && peerCertificate(req.socket as TLSSocket) !== null;
}

/**
 * `auth` and `roles` of an entry. `optional` passes a request that presents no credential (no
 * Authorization header, no client certificate) on without a user; a credential that is presented
 * must be valid (401), so a wrong password is never silently anonymous.
 */
async function gate(app: ApplicationConfig, req: IncomingMessage, ctx: AppRequestContext): Promise<Gate> {
  if (app.auth === 'none') return { ok: true, identity: { user: null, certificate: null } };
  const outcome = await ctx.authenticate();
  const socket = req.socket as TLSSocket;
  if (!outcome.ok) {
    const presented = req.headers.authorization !== undefined || certificatePresented(req, ctx.secure);
    if (app.auth === 'optional' && !presented) return { ok: true, identity: { user: null, certificate: null } };
    ctx.refused(outcome.reason);
    return { ok: false, status: outcome.status, body: { error: outcome.error } };
  }
  if (app.roles && !app.roles.includes(outcome.user.role)) return { ok: false, status: 403, body: { error: 'Forbidden' } };
  return {
    ok: true,
    identity: {
      user: { username: outcome.user.username, role: outcome.user.role, authenticatedBy: outcome.method },
      // Through a trusted proxy, the certificate is the client's forwarded one, never the proxy's own.
      certificate: outcome.method === 'mtls' ? (outcome.forwardedCertificate ?? peerCertificate(socket)) : null,
    },
  };
}

/**
 * The request's Host (or `:authority`). Checked once, by `refusal()`, before any entry serves the
 * request: past it, this is a valid `host[:port]` or undefined.
 */
function rawHost(req: IncomingMessage): string | undefined {
  return (req.headers[':authority'] as string | undefined) ?? req.headers.host;
}

/** TRACE and TRACK echo the request (cross-site tracing) and a WHATWG Request refuses them. */
const REFUSED_METHODS = new Set(['TRACE', 'TRACK']);
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/** What no application gets: a Host that is not a valid `host[:port]` (400), TRACE or TRACK (405). */
function refusal(req: IncomingMessage): { status: number; body: object; headers?: Record<string, string> } | undefined {
  if (REFUSED_METHODS.has(req.method ?? 'GET')) return { status: 405, body: { error: `method ${req.method} is not allowed` }, headers: { allow: ALLOWED_METHODS } };
  const host = rawHost(req);
  if (host !== undefined && requestHost(host) === undefined) return { status: 400, body: { error: 'invalid Host header' } };
  return undefined;
}

function queryOf(req: IncomingMessage): string {
  const raw = req.url ?? '';
  const q = raw.indexOf('?');
  return q < 0 ? '' : raw.slice(q);
}

function forwarded(app: ApplicationConfig, req: IncomingMessage, identity: VerifiedIdentity, secure: boolean, keepHost: boolean): string[] {
  return forwardHeaders(req.rawHeaders, {
    identity,
    identityHeaders: app.auth === 'none' ? false : app.kind === 'upstream' ? app.identityHeaders : { certificate: false },
    dropAuthorization: app.auth !== 'none',
    certificateHeader: forwardedCertificateHeader(req),
    clientAddress: clientAddress(req),
    // SPEC.md section 7: the inbound chain is believed only from a trusted proxy.
    forwardedFor: forwardedForChain(req),
    proto: secure ? 'https' : 'http',
    host: rawHost(req),
    keepHost,
  });
}

/**
 * Sets request fields by assignment (IncomingMessage has setters for headers/headersDistinct:
 * cheap, no shape change of the prototype's accessors); an HTTP/2 compatibility request has
 * getters only, so there the field is defined on the object.
 */
function setOn(req: IncomingMessage, fields: Record<string, unknown>): void {
  const r = req as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    try {
      r[k] = v;
    } catch {
      // a getter without setter (strict mode throws)
    }
    if (r[k] !== v) Object.defineProperty(req, k, { value: v, writable: true, configurable: true, enumerable: true });
  }
}

export interface ApplicationsOptions extends ProxyOptions {
  rootPath: string;
  /** `http.http2`: HTTP/2 requests reach request-listener modules as Node's compatibility objects (warned once at start). */
  http2?: boolean;
  logger: ProxyOptions['logger'] & { error(obj: object, msg?: string): void };
}

/**
 * Loads every module (a bad one is a ConfigError naming its entry) and opens a pool per upstream.
 * Nothing listens yet; the server calls `handle` for application-listener requests its own
 * paths did not take.
 */
export async function createApplications(apps: readonly ApplicationConfig[], opts: ApplicationsOptions): Promise<Applications> {
  const modules = new Map<ModuleApplication, LoadedModule>();
  const proxies = new Map<UpstreamApplication, UpstreamProxy>();
  const closeAll = async () => {
    const results = await Promise.allSettled([...[...modules.values()].map(async (m) => m.close?.()), ...[...proxies.values()].map((p) => p.close())]);
    for (const r of results) if (r.status === 'rejected') opts.logger.error({ err: r.reason }, 'an application failed to close');
  };
  try {
    for (const app of apps) {
      if (app.kind === 'module') modules.set(app, await loadModule(app, opts.rootPath));
      else proxies.set(app, new UpstreamProxy(app, opts));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const listeners = [...modules].filter(([, m]) => m.kind === 'listener').map(([a]) => a.path);
  if (opts.http2 && listeners.length) {
    // ALPN stays as http.http2 says; changing it behind the user's back would surprise every other client.
    opts.logger.warn({ applications: listeners }, 'http.http2 is on: HTTP/2 clients reach these request-listener modules through Node\'s http2 compatibility objects, which Express and Koa do not support; set http.http2: false or export fetch(request, context)');
  }

  const runModule = async (app: ModuleApplication, req: IncomingMessage, res: ServerResponse, pathname: string, identity: VerifiedIdentity, ctx: AppRequestContext) => {
    const mod = modules.get(app)!;
    const flat = forwarded(app, req, identity, ctx.secure, true);
    const path = innerPath(app, pathname) + queryOf(req);
    const user = identity.user;
    const clientCertificate = identity.certificate ? describeClientCertificate(identity.certificate) : null;
    try {
      if (mod.kind === 'fetch') {
        const context: ModuleContext = { user, clientCertificate, remoteAddress: clientAddress(req), requestId: ctx.reqId };
        await runFetch(mod, req, res, `${ctx.secure ? 'https' : 'http'}://${rawHost(req) ?? 'localhost'}${path}`, flat, context);
      } else {
        // The module sees the request as the upstream would: stripped and set headers, its own URL.
        const distinct: Record<string, string[]> = {};
        for (let i = 0; i < flat.length; i += 2) (distinct[flat[i]!.toLowerCase()] ??= []).push(flat[i + 1]!);
        setOn(req, { headers: headersObject(flat), headersDistinct: distinct, rawHeaders: flat, url: path, user, clientCertificate });
        await runListener(mod, req, res);
      }
    } catch (err) {
      opts.logger.error({ err, reqId: ctx.reqId, application: app.path, module: app.module }, 'application module failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'Internal server error' }, { 'x-request-id': ctx.reqId });
      else res.destroy();
    }
  };

  const sorted = [...apps];
  return {
    match: (pathname) => matchApplication(sorted, pathname),
    async handle(req, res, pathname, ctx) {
      const app = isServerPath(pathname) ? undefined : matchApplication(sorted, pathname);
      if (!app) return false;
      const refused = refusal(req);
      if (refused) {
        sendJson(res, refused.status, refused.body, { 'x-request-id': ctx.reqId, ...refused.headers });
        return true;
      }
      const g = await gate(app, req, ctx);
      if (!g.ok) {
        sendJson(res, g.status, g.body, { 'x-request-id': ctx.reqId });
        return true;
      }
      if (app.kind === 'module') {
        await runModule(app, req, res, pathname, g.identity, ctx);
        return true;
      }
      const path = app.basePath + innerPath(app, pathname) + queryOf(req);
      await proxies.get(app)!.request(req, res, path === '' ? '/' : path, forwarded(app, req, g.identity, ctx.secure, false), ctx.reqId);
      return true;
    },
    async upgrade(req, socket, head, pathname, ctx) {
      socket.on('error', () => socket.destroy());
      const app = isServerPath(pathname) ? undefined : matchApplication(sorted, pathname);
      if (!app) return writeRaw(socket, 404, { error: 'Not found' }, ctx.reqId);
      if (app.kind !== 'upstream') return writeRaw(socket, 501, { error: 'WebSocket upgrades reach upstream applications only' }, ctx.reqId);
      const refused = refusal(req);
      if (refused) return writeRaw(socket, refused.status, refused.body, ctx.reqId);
      const g = await gate(app, req, ctx);
      if (!g.ok) return writeRaw(socket, g.status, g.body, ctx.reqId);
      const path = app.basePath + innerPath(app, pathname) + queryOf(req);
      await proxies.get(app)!.upgrade(socket, head, path === '' ? '/' : path, forwarded(app, req, g.identity, ctx.secure, false), ctx.reqId);
    },
    close: closeAll,
  };
}
