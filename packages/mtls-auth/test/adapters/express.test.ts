import express from 'express';
import { createServer } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtls } from '../../src/adapters/express.js';
import { closeServer, get, makeAdapterPki, serverTls, type AdapterPki } from './harness.js';
import type { MtlsOptions } from '../../src/adapters/options.js';
import { adapterSuite, type StartApp } from './suite.js';

const start: StartApp = async (pki, options) => {
  const app = express();
  const guard = mtls(options);
  app.use(guard);
  app.get('/whoami', (req, res) => {
    res.json({ user: req.user, clientCertificate: req.clientCertificate, header: req.headers['x-ssl-client-cert'] });
  });
  const server = createServer(serverTls(pki), app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: async () => (await closeServer(server), await guard.close()) };
};

adapterSuite('express', start);

describe('express adapter', () => {
  let pki: AdapterPki;
  beforeAll(async () => {
    pki = await makeAdapterPki();
  });
  afterAll(() => pki.close());

  it('a users function that throws is the app error handler\'s (500), not a 401', async () => {
    const app = express();
    app.use(mtls({ users: async () => { throw new Error('db down'); } }));
    app.get('/whoami', (_req, res) => void res.json({}));
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).json({ error: err.message }));
    const server = createServer(serverTls(pki), app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      expect(await get(pki, (server.address() as AddressInfo).port, '/whoami', pki.alice)).toEqual({ status: 500, body: { error: 'db down' } });
    } finally {
      await closeServer(server);
    }
  });

  it('forwardedCertificate behind a TLS-terminating proxy (plain http server): without ca every certificate is refused and it warns once; with ca the forwarded one is the user', async () => {
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const serve = async (options: MtlsOptions) => {
      const app = express();
      app.use(mtls(options));
      app.get('/whoami', (req, res) => void res.json({ user: req.user }));
      const server = createHttpServer(app);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return server;
    };
    const forwarded = { forwardedCertificate: { format: 'pem-urlencoded' as const }, trustedProxies: ['127.0.0.1'], logger };
    const header = { 'x-ssl-client-cert': encodeURIComponent(pki.carol.certificatePem + pki.inter.certificatePem) };
    const ask = async (server: ReturnType<typeof createHttpServer>) => {
      const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/whoami`, { headers: header });
      return { status: r.status, body: await r.json() };
    };
    const noCa = await serve(forwarded);
    const withCa = await serve({ ...forwarded, ca: pki.root.certificatePem });
    try {
      expect(await ask(noCa)).toEqual({ status: 401, body: { error: 'Login failed' } });
      expect(await ask(noCa)).toEqual({ status: 401, body: { error: 'Login failed' } });
      expect(warnings).toEqual([expect.stringMatching(/^mtls\(\): a forwarded client certificate arrived on a plain-HTTP server and options.ca is not set: .*pass options.ca$/)]);
      expect(await ask(withCa)).toEqual({ status: 200, body: { user: { username: 'carol', role: null, authenticatedBy: 'mtls' } } });
      expect(warnings).toHaveLength(1);
    } finally {
      await closeServer(noCa);
      await closeServer(withCa);
    }
  });

  it('mounted on one router only: other routes are untouched', async () => {
    const app = express();
    const api = express.Router();
    api.use(mtls());
    api.get('/me', (req, res) => void res.json({ user: req.user }));
    app.use('/api', api);
    app.get('/public', (_req, res) => void res.json({ public: true }));
    const server = createServer(serverTls(pki), app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await get(pki, port, '/public')).toEqual({ status: 200, body: { public: true } });
      expect((await get(pki, port, '/api/me')).status).toBe(401);
      expect((await get(pki, port, '/api/me', pki.alice)).body.user.username).toBe('alice');
    } finally {
      await closeServer(server);
    }
  });
});
