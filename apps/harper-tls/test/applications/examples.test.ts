import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { curl, freePort, runToEnd, tempRoot } from '../helpers/run.js';
// @ts-expect-error plain ES modules of the examples folder (no types)
import { startExample as startExpress } from '../../../../examples/express-app/start.mjs';
// @ts-expect-error plain ES modules of the examples folder (no types)
import { startExample as startProxied } from '../../../../examples/proxied-service/start.mjs';

type Started = { code: Promise<number>; out: () => string; stop(): Promise<number> };

async function start(fn: (o: object) => Promise<number>, opts: object): Promise<Started> {
  let out = '';
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  const code = fn({ ...opts, env: { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'example-pw' }, stdout: (t: string) => (out += t), stderr: (t: string) => (out += t), stopSignal });
  const deadline = Date.now() + 20_000;
  let ended = false;
  void code.then(() => (ended = true));
  while (!out.includes('operations ')) {
    if (ended || Date.now() > deadline) throw new Error(`example did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { code, out: () => out, stop: () => (stop('SIGTERM'), code) };
}

/** The examples/ folders, each started the way its README says (their start.mjs), answering as their READMEs show. */
describe('examples', () => {
  const cleanups: Array<() => void> = [];
  afterAll(() => cleanups.forEach((c) => c()));

  it('express-app: the Express app sees the verified user; no user, no request', async () => {
    const { root, cleanup } = tempRoot();
    cleanups.push(cleanup);
    const httpsPort = await freePort();
    const s = await start(startExpress, { root, httpsPort, opsPort: await freePort() });
    try {
      const ca = join(root, 'keys', 'ca.pem');
      const basic = await curl(['--cacert', ca, '-u', 'admin:example-pw', `https://localhost:${httpsPort}/app/`]);
      expect(JSON.parse(basic.body)).toEqual({ hello: 'admin', role: 'super_user', authenticatedBy: 'basic', certificate: null });
      const issued = await runToEnd(['cert', 'issue', '--root', root, '--cn', 'admin', '--out', join(root, 'issued')]);
      expect(issued.code).toBe(0);
      const mtls = await curl(['--cacert', ca, '--cert', join(root, 'issued', 'admin.pem'), '--key', join(root, 'issued', 'admin-key.pem'), '-H', 'content-type: application/json', '-d', '{"text":"hi"}', `https://localhost:${httpsPort}/app/notes`]);
      expect(mtls.status).toBe(201);
      expect(JSON.parse(mtls.body)).toEqual({ by: 'admin', text: 'hi' });
      expect(await curl(['--cacert', ca, `https://localhost:${httpsPort}/app/`])).toEqual({ status: 401, body: '{"error":"Login failed"}' });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('proxied-service: the service gets the verified user, never the one the client sent', async () => {
    const { root, cleanup } = tempRoot();
    cleanups.push(cleanup);
    const httpsPort = await freePort();
    const s = await start(startProxied, { root, httpsPort, opsPort: await freePort(), servicePort: 0 });
    try {
      const ca = join(root, 'keys', 'ca.pem');
      const r = await curl(['--cacert', ca, '-u', 'admin:example-pw', '-H', 'X-Forwarded-User: mallory', `https://localhost:${httpsPort}/orders`]);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ hello: 'admin', role: 'super_user', via: 'basic', clientCert: null, path: '/orders', for: '127.0.0.1' });
      const anon = await curl(['--cacert', ca, '-H', 'X-Forwarded-User: mallory', `https://localhost:${httpsPort}/orders`]);
      expect(anon).toEqual({ status: 401, body: '{"error":"Login failed"}' });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});
