import type { IncomingMessage } from 'node:http';
import { createMtlsCore, type ClientCertificate } from './core.js';
import type { MtlsOptions, MtlsUser } from './options.js';

/** The part of a Koa context the middleware uses (so no Koa types are needed to use it). */
export interface MtlsKoaContext {
  req: IncomingMessage;
  state: { user?: MtlsUser | null; clientCertificate?: ClientCertificate | null; [key: string]: unknown };
  status: number;
  body: unknown;
}

/** Koa middleware, with `close()` to stop its revocation checker. */
export interface MtlsKoaMiddleware {
  (ctx: MtlsKoaContext, next: () => Promise<unknown>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Koa middleware: sets `ctx.state.user` and `ctx.state.clientCertificate` from the client
 * certificate the TLS socket verified, or answers 401 `{"error":"Login failed"}` /
 * `{"error":"Certificate revoked or verification failed"}`. Options: SPEC section 9.
 */
export function mtls(options?: MtlsOptions): MtlsKoaMiddleware {
  const core = createMtlsCore(options);
  const middleware = async (ctx: MtlsKoaContext, next: () => Promise<unknown>): Promise<void> => {
    const d = await core.decide(ctx.req);
    if (!d.ok) {
      ctx.status = d.status;
      ctx.body = d.body;
      return;
    }
    ctx.state.user = d.user;
    ctx.state.clientCertificate = d.clientCertificate;
    await next();
  };
  return Object.assign(middleware, { close: core.close });
}

export type { MtlsOptions, MtlsUser, MtlsUserRecord, RevocationSettings } from './options.js';
export type { ClientCertificate } from './core.js';
