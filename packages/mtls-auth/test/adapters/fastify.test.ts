import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtls } from '../../src/adapters/fastify.js';
import { get, makeAdapterPki, serverTls, type AdapterPki } from './harness.js';
import { adapterSuite, type StartApp } from './suite.js';

async function listen(app: Pick<FastifyInstance, 'listen'> & { server: { address(): unknown } }): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

const start: StartApp = async (pki, options) => {
  const app = Fastify({ https: serverTls(pki) });
  await app.register(mtls, options);
  app.get('/whoami', async (request) => ({ user: request.user, clientCertificate: request.clientCertificate, header: request.headers['x-ssl-client-cert'] }));
  const port = await listen(app);
  return { port, close: () => app.close() };
};

adapterSuite('fastify', start);

describe('fastify adapter', () => {
  let pki: AdapterPki;
  beforeAll(async () => {
    pki = await makeAdapterPki();
  });
  afterAll(() => pki.close());

  it('applies outside its encapsulation context (fastify-plugin): routes of sibling plugins registered after it', async () => {
    const app = Fastify({ https: serverTls(pki) });
    await app.register(mtls, {});
    await app.register(async (child) => {
      child.get('/child', async (request) => ({ user: request.user }));
    });
    try {
      const port = await listen(app);
      expect((await get(pki, port, '/child', pki.alice)).body).toEqual({ user: { username: 'alice', role: null, authenticatedBy: 'mtls' } });
      expect(await get(pki, port, '/child')).toEqual({ status: 401, body: { error: 'Login failed' } });
    } finally {
      await app.close();
    }
  });

  it('registered inside a child plugin with its own wrapper: only that context is guarded', async () => {
    const app = Fastify({ https: serverTls(pki) });
    await app.register(async (api) => {
      await api.register(mtls, { required: true });
      api.get('/api/me', async (request) => ({ user: request.user }));
    });
    app.get('/public', async (request) => ({ user: request.user ?? null }));
    try {
      const port = await listen(app);
      expect(await get(pki, port, '/public')).toEqual({ status: 200, body: { user: null } });
      expect((await get(pki, port, '/api/me')).status).toBe(401);
      expect((await get(pki, port, '/api/me', pki.alice)).body.user.username).toBe('alice');
    } finally {
      await app.close();
    }
  });

  it('over HTTP/2 (request.raw is an Http2ServerRequest): the same user, and 401 without a certificate', async () => {
    const app = Fastify({ http2: true, https: serverTls(pki) });
    await app.register(mtls, { revocation: {} });
    app.get('/whoami', async (request) => ({ user: request.user }));
    const ask = (as?: typeof pki.alice) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const session = connect(`https://127.0.0.1:${port}`, { ca: pki.root.certificatePem, servername: 'localhost', ...(as ? { key: as.privateKeyPem, cert: as.certificatePem + pki.inter.certificatePem } : {}) });
        session.on('error', reject);
        const stream = session.request({ ':path': '/whoami' });
        let status = 0;
        let text = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (text += c));
        stream.on('end', () => (session.close(), resolve({ status, body: JSON.parse(text) })));
        stream.on('error', reject);
      });
    let port = 0;
    try {
      port = await listen(app);
      expect(await ask(pki.alice)).toEqual({ status: 200, body: { user: { username: 'alice', role: null, authenticatedBy: 'mtls' } } });
      expect(await ask(pki.bob)).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
      expect(await ask()).toEqual({ status: 401, body: { error: 'Login failed' } });
    } finally {
      await app.close();
    }
  });

  it('a bad option fails register with ERR_AUTH_INVALID_OPTION naming the key', async () => {
    const app = Fastify();
    await expect(app.register(mtls, { revocation: { crl: { timout: 5 } } } as never).ready()).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_OPTION', message: expect.stringContaining('options.revocation.crl.timout') });
    await app.close();
  });

  it('forwardedCertificate on a plain-HTTP server without ca fails register (every forwarded certificate would be refused); with ca it serves the forwarded user', async () => {
    const forwarded = { forwardedCertificate: { format: 'pem-urlencoded' as const }, trustedProxies: ['127.0.0.1'] };
    const bare = Fastify();
    await expect(bare.register(mtls, forwarded).ready()).rejects.toMatchObject({ code: 'ERR_AUTH_INVALID_OPTION', message: expect.stringMatching(/options\.forwardedCertificate on a plain-HTTP server .* needs options\.ca/) });
    await bare.close();
    const app = Fastify();
    await app.register(mtls, { ...forwarded, ca: pki.root.certificatePem });
    app.get('/whoami', async (request) => ({ user: request.user }));
    try {
      const port = await listen(app);
      const r = await fetch(`http://127.0.0.1:${port}/whoami`, { headers: { 'x-ssl-client-cert': encodeURIComponent(pki.carol.certificatePem + pki.inter.certificatePem) } });
      expect([r.status, await r.json()]).toEqual([200, { user: { username: 'carol', role: null, authenticatedBy: 'mtls' } }]);
    } finally {
      await app.close();
    }
    // A TLS server is not refused at register: its own ca is the default.
    const tls = Fastify({ https: serverTls(pki) });
    await expect(tls.register(mtls, forwarded).ready()).resolves.toBeDefined();
    await tls.close();
  });

  it('a users function that throws is a 500 from Fastify, not a 401', async () => {
    const app = Fastify({ https: serverTls(pki) });
    await app.register(mtls, { users: () => { throw new Error('db down'); } });
    app.get('/whoami', async () => ({}));
    try {
      const port = await listen(app);
      expect((await get(pki, port, '/whoami', pki.alice)).status).toBe(500);
    } finally {
      await app.close();
    }
  });
});
