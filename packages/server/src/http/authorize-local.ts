import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Authenticate, AuthOutcome } from '../server.js';
import { cameThroughProxy } from './forwarding-policy.js';

/** Headers by which a proxy says whom it forwards for: any of them makes a request not local. */
const FORWARDED_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

/** Whether an address is loopback: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export interface AuthorizeLocalOptions {
  /** The listener is the Operations API's Unix domain socket. */
  viaSocket: boolean;
  /** The admin user created at first start, looked up per request (so drop_user or active: false apply). */
  admin: () => Promise<{ username: string; role: string; active: boolean } | undefined>;
  /**
   * Whether the request came through a trusted proxy or carries a PROXY-protocol address (trusted
   * proxies and PROXY protocol, SPEC.md section 7, decide this). Default: never; the forwarded
   * headers below are checked whatever this says.
   */
  cameThroughProxy?: (req: IncomingMessage) => boolean;
}

function hasPeerCertificate(req: IncomingMessage): boolean {
  const socket = ((req as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session?.socket ?? req.socket) as TLSSocket;
  if (!socket?.encrypted) return false;
  const peer = socket.getPeerCertificate();
  return !!peer && Object.keys(peer).length > 0;
}

/**
 * Whether a browser sent the request for another site's page (cross-site request forgery): a
 * `Sec-Fetch-Site` of `cross-site` or `same-site`, or an `Origin` whose host:port is not the
 * request's own `Host` (an opaque `null` origin included). A page on the internet can make a
 * browser on this machine send requests to localhost; they are never local.
 */
export function fromAnotherSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  const host = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
  if (host === undefined) return true;
  try {
    const o = new URL(origin);
    if (o.protocol !== 'http:' && o.protocol !== 'https:') return true;
    return new URL(`${o.protocol}//${host}`).host !== o.host;
  } catch {
    return true;
  }
}

/**
 * A request that presents no credentials at all and is local (SPEC.md section 11): on the domain
 * socket, or from a loopback peer, and in both cases not through a proxy and without any
 * `X-Forwarded-For`, `Forwarded` or `X-Real-IP` header, and not sent for another site's page (`fromAnotherSite`). Harper lacks the proxy checks: behind a
 * proxy on the same machine every request would be local.
 */
export function isLocalRequest(req: IncomingMessage, opts: Pick<AuthorizeLocalOptions, 'viaSocket' | 'cameThroughProxy'>): boolean {
  if (!opts.viaSocket && !isLoopback(req.socket?.remoteAddress)) return false;
  if (fromAnotherSite(req)) return false;
  for (const h of FORWARDED_HEADERS) if (req.headers[h] !== undefined) return false;
  // What the forwarding policy resolved (SPEC.md section 7): a trusted-proxy peer, a PROXY
  // header, or a forwarded address the request carried even if it was removed as untrusted.
  if (cameThroughProxy(req)) return false;
  return !opts.cameThroughProxy?.(req);
}

/**
 * `authentication.authorizeLocal`: wraps a listener's authenticator. Credentials are tried first,
 * always: a request with an `Authorization` header or a client certificate gets exactly what they
 * are worth (wrong ones stay 401, a revoked certificate stays refused). Only a request with none,
 * that is local, is the admin user, `method: 'local'` (fail closed when the admin is gone or
 * inactive).
 */
export function authorizeLocal(inner: Authenticate, opts: AuthorizeLocalOptions): Authenticate {
  return async (req) => {
    const outcome = await inner(req);
    if (outcome.ok || req.headers.authorization !== undefined || hasPeerCertificate(req) || !isLocalRequest(req, opts)) return outcome;
    const admin = await opts.admin();
    if (!admin || !admin.active) return outcome;
    const local: AuthOutcome = { ok: true, user: { username: admin.username, role: admin.role }, method: 'local' };
    return local;
  };
}
