import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appServer, echoUpstream, moduleDir, moduleEntry, request, upstreamEntry } from '../helpers/apps.js';

/** Input a WHATWG Request refuses is the client's error (4xx), never a module failure (500 and an error line). */
describe('application requests a URL or Request cannot carry', () => {
  const files = moduleDir();
  let up: Awaited<ReturnType<typeof echoUpstream>>;
  let app: Awaited<ReturnType<typeof appServer>>;

  beforeAll(async () => {
    up = await echoUpstream();
    const fetchMod = files.write('fetch.mjs', 'export function fetch(request) { return Response.json({ url: request.url }); }\n');
    const listener = files.write('listener.mjs', 'export default (req, res) => { res.end(req.method); };\n');
    app = await appServer([moduleEntry('/fetch', fetchMod, { auth: 'none' }), moduleEntry('/listener', listener, { auth: 'none' }), upstreamEntry('/up', up.origin, { auth: 'none' })]);
  });
  afterAll(async () => {
    await app.close();
    await up.close();
    files.cleanup();
  });

  it('a Host that is no valid host[:port] is a 400', async () => {
    for (const host of ['a:99999', '1.2.3.256', '%', 'a%zz']) {
      for (const path of ['/fetch/x', '/listener', '/up/x']) {
        const r = await request(app.port, { path, headers: { host } });
        expect(r.status, `${host} ${path}`).toBe(400);
        expect(r.body).toEqual({ error: 'invalid Host header' });
      }
    }
    expect((await request(app.port, { path: '/fetch/x', headers: { host: 'good.example:8080' } })).body).toEqual({ url: 'http://good.example:8080/fetch/x' });
    expect(app.errors()).toEqual([]);
  });

  it('TRACE is 405 on every application; TRACK never reaches one', async () => {
    for (const path of ['/fetch/x', '/listener', '/up/x']) {
      const r = await request(app.port, { path, method: 'TRACE' });
      expect(r.status, path).toBe(405);
      expect(r.headers.allow).toMatch(/GET/);
      // Node's HTTP parser does not know TRACK: 400 before any handler (405 should it learn it).
      expect([400, 405]).toContain((await request(app.port, { path, method: 'TRACK' }).catch(() => ({ status: 400 }))).status);
    }
    expect(app.errors()).toEqual([]);
  });
});
