import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from './logger.js';
import type { AuthOutcome, ListenerName } from './server.js';
import { clientAddressInfo } from './http/client-address.js';

/** `logging.auditAuthEvents`. */
export interface AuthAuditOptions {
  logFailed: boolean;
  logSuccessful: boolean;
}

function connectionSocket(req: IncomingMessage): TLSSocket | undefined {
  return ((req as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session?.socket ?? req.socket) as TLSSocket | undefined;
}

/** The client certificate of the connection, when one was presented: its SHA-256 fingerprint and subject CN. */
function peerCertificate(req: IncomingMessage): { fingerprint256: string; cn?: string } | undefined {
  const socket = connectionSocket(req);
  if (!socket?.encrypted) return undefined;
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.fingerprint256) return undefined;
  const cn = peer.subject?.CN;
  return { fingerprint256: peer.fingerprint256, cn: Array.isArray(cn) ? undefined : cn };
}


/** The user a request tried to be: the Basic username (never the password), else the certificate's CN; a token's user is not read. */
function attemptedUser(req: IncomingMessage, cert: { cn?: string } | undefined): string | undefined {
  const m = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(String(req.headers.authorization ?? ''));
  if (m) {
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return decoded.slice(0, colon).slice(0, 256);
  }
  return cert?.cn;
}

/**
 * One audit line per authentication (SPEC.md section 11, `logging.auditAuthEvents`): failed ones
 * at `warn` (so Harper's default level `warn` shows them), successful ones at `info`. Each names
 * the user, the method, the client address and the client certificate's fingerprint; never a
 * password or a token. A request that presented no credentials at all is not a login attempt.
 * @param method the method that succeeded, or the one the failed request tried (`none`: no credentials).
 */
export function auditAuthentication(logger: Logger, opts: AuthAuditOptions, req: IncomingMessage, result: AuthOutcome, listener: ListenerName, method: string): void {
  if (result.ok ? !opts.logSuccessful : !opts.logFailed || method === 'none') return;
  const forwarded = result.ok ? (result as { forwardedCertificate?: { fingerprint256: string } }).forwardedCertificate : undefined;
  const cert = forwarded ? { fingerprint256: forwarded.fingerprint256 } : peerCertificate(req);
  const where = clientAddressInfo(req);
  const line = {
    audit: 'authentication',
    outcome: result.ok ? 'success' : 'failure',
    user: result.ok ? result.user.username : attemptedUser(req, cert),
    method,
    remote: where.clientAddress,
    ...(where.peer !== undefined && where.peer !== where.clientAddress ? { peer: where.peer } : {}),
    listener,
    ...(cert ? { fingerprint256: cert.fingerprint256 } : {}),
    ...(result.ok ? {} : { reason: result.reason ?? 'unspecified' }),
  };
  if (result.ok) logger.info(line, 'authentication succeeded');
  else logger.warn(line, 'authentication failed (audit)');
}
