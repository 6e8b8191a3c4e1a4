import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMtlsCore, type ClientCertificate, type MtlsDecision } from './core.js';
import type { MtlsOptions, MtlsUser } from './options.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `mtls()` of @harper-tls/mtls-auth/express: the verified user, or null (`required: false` without a certificate, `user: null`). */
      user?: MtlsUser | null;
      /** Set by `mtls()`: the verified client certificate, or null. */
      clientCertificate?: ClientCertificate | null;
    }
  }
}

/** The request as the middleware leaves it. */
export type MtlsRequest = IncomingMessage & { user?: MtlsUser | null; clientCertificate?: ClientCertificate | null };

/** Express / Connect middleware, with `close()` to stop its revocation checker. */
export interface MtlsMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  close(): Promise<void>;
}

function apply(req: MtlsRequest, res: ServerResponse, next: (err?: unknown) => void, d: MtlsDecision): void {
  if (d.ok) {
    req.user = d.user;
    req.clientCertificate = d.clientCertificate;
    next();
    return;
  }
  const body = JSON.stringify(d.body);
  res.writeHead(d.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Express / Connect middleware: sets `req.user` and `req.clientCertificate` from the client
 * certificate the TLS socket verified, or answers 401 `{"error":"Login failed"}` /
 * `{"error":"Certificate revoked or verification failed"}`. Options: SPEC section 9.
 * Throws AuthError ERR_AUTH_INVALID_OPTION for a bad option.
 */
export function mtls(options?: MtlsOptions): MtlsMiddleware {
  const core = createMtlsCore(options);
  const middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    const d = core.decide(req);
    if (d instanceof Promise) d.then((r) => apply(req, res, next, r), next);
    else apply(req, res, next, d);
  };
  return Object.assign(middleware, { close: core.close });
}

export type { MtlsOptions, MtlsUser, MtlsUserRecord, RevocationSettings } from './options.js';
export type { ClientCertificate } from './core.js';
