import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';
import type { FastifyPluginCallback } from 'fastify';
import { createMtlsCore, type ClientCertificate } from './core.js';
import type { MtlsOptions, MtlsUser } from './options.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the @harper-tls/mtls-auth/fastify plugin: the verified user, or null. */
    user: MtlsUser | null;
    /** Set by the plugin: the verified client certificate, or null. */
    clientCertificate: ClientCertificate | null;
  }
}

/** Keys `fastify.register` passes along with the plugin's own options. */
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers']);

const plugin: FastifyPluginCallback<MtlsOptions> = (fastify, options, done) => {
  const own = Object.fromEntries(Object.entries(options ?? {}).filter(([k]) => !REGISTER_KEYS.has(k))) as MtlsOptions;
  let core: ReturnType<typeof createMtlsCore>;
  try {
    core = createMtlsCore(own, { server: fastify.server });
  } catch (err) {
    done(err as Error);
    return;
  }
  fastify.decorateRequest('user', null);
  fastify.decorateRequest('clientCertificate', null);
  fastify.addHook('onRequest', (request, reply, next) => {
    const apply = (d: Awaited<ReturnType<typeof core.decide>>) => {
      if (!d.ok) {
        reply.code(d.status).send(d.body);
        return;
      }
      request.user = d.user;
      request.clientCertificate = d.clientCertificate;
      next();
    };
    const d = core.decide(request.raw as IncomingMessage);
    if (d instanceof Promise) d.then(apply, next);
    else apply(d);
  });
  fastify.addHook('onClose', (_instance, next) => {
    core.close().then(() => next(), next);
  });
  done();
};

/**
 * A Fastify plugin (`fastify.register(mtls, options)`), wrapped with fastify-plugin so it
 * applies to every route of the instance it is registered on, including routes registered
 * outside it. Sets `request.user` and `request.clientCertificate`, or answers 401. Options: SPEC
 * section 9. A bad option fails `register` (AuthError ERR_AUTH_INVALID_OPTION).
 */
export const mtls = fp(plugin, { fastify: '>=4', name: '@harper-tls/mtls-auth' });

export type { MtlsOptions, MtlsUser, MtlsUserRecord, RevocationSettings } from './options.js';
export type { ClientCertificate } from './core.js';
