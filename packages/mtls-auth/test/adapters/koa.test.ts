import Koa from 'koa';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtls } from '../../src/adapters/koa.js';
import { closeServer, get, makeAdapterPki, serverTls, type AdapterPki } from './harness.js';
import { adapterSuite, type StartApp } from './suite.js';

const start: StartApp = async (pki, options) => {
  const app = new Koa();
  const guard = mtls(options);
  app.use(guard);
  app.use((ctx) => {
    ctx.body = { user: ctx.state.user, clientCertificate: ctx.state.clientCertificate, header: ctx.get('x-ssl-client-cert') || undefined };
  });
  const server = createServer(serverTls(pki), app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: async () => (await closeServer(server), await guard.close()) };
};

adapterSuite('koa', start);

describe('koa adapter', () => {
  let pki: AdapterPki;
  beforeAll(async () => {
    pki = await makeAdapterPki();
  });
  afterAll(() => pki.close());

  it('a refused request never reaches the next middleware', async () => {
    const app = new Koa();
    let reached = 0;
    app.use(mtls());
    app.use((ctx) => {
      reached++;
      ctx.body = { ok: true };
    });
    const server = createServer(serverTls(pki), app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await get(pki, port, '/', pki.stranger)).toEqual({ status: 401, body: { error: 'Login failed' } });
      expect(reached).toBe(0);
      expect(await get(pki, port, '/', pki.alice)).toEqual({ status: 200, body: { ok: true } });
      expect(reached).toBe(1);
    } finally {
      await closeServer(server);
    }
  });
});
