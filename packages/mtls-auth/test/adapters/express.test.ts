import express from 'express';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtls } from '../../src/adapters/express.js';
import { closeServer, get, makeAdapterPki, serverTls, type AdapterPki } from './harness.js';
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
