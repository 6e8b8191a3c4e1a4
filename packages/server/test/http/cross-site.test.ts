import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { HarperServer, type AuthOutcome } from '../../src/server.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { authorizeLocal, fromAnotherSite } from '../../src/http/authorize-local.js';
import { corsPolicy } from '../../src/http/cors.js';
import { memoryLogger } from '../helpers/logger.js';
import { request } from '../helpers/apps.js';

/**
 * Cross-site request forgery against the Operations API: a page can make a browser POST
 * `text/plain` to localhost without a CORS preflight, with the browser's client certificate, and
 * on this machine authorizeLocal would make it the admin.
 */
describe('Operations API: requests a cross-site page can make', () => {
  const { logger } = memoryLogger();
  const done: string[] = [];
  let server: HarperServer;
  let port: number;
  const refused: AuthOutcome = { ok: false, status: 401, error: 'Login failed', reason: 'no credentials' };
  const op: OperationHandler = async (body, caller) => {
    if (body.operation !== 'add_user') return undefined;
    done.push(String(body.username));
    return { status: 200, body: { message: 'added', by: caller?.username } };
  };
  const addUser = (username: string) => JSON.stringify({ operation: 'add_user', username, password: 'x', role: 'super_user', active: true });

  beforeAll(async () => {
    server = new HarperServer({
      logger,
      host: '127.0.0.1',
      listeners: [{ name: 'operations', api: 'operations', port: 0, authenticate: authorizeLocal(async () => refused, { viaSocket: false, admin: async () => ({ username: 'admin', role: 'super_user', active: true }) }), cors: corsPolicy({ anyOrigin: true, origins: [] } as never, 'operations') }],
      operations: [op],
    });
    port = (await server.listen())[0]!.port;
  });
  afterAll(() => server.close());

  it('a POST with Origin and no JSON content type is a 415 and does nothing', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const headers: Record<string, string> = { origin: 'http://evil.example' };
      if (type) headers['content-type'] = type;
      const r = await request(port, { method: 'POST', body: addUser('mallory'), headers });
      expect(r.status, type).toBe(415);
      expect(r.body).toEqual({ error: expect.any(String) });
    }
    expect(done).toEqual([]);
  });

  it('with authorizeLocal, a JSON POST from another origin or site is not local: 401', async () => {
    for (const headers of [{ origin: 'http://evil.example' }, { origin: 'null' }, { origin: `http://127.0.0.1:${port + 1}` }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }] as Array<Record<string, string>>) {
      const r = await request(port, { method: 'POST', body: addUser('mallory'), headers: { 'content-type': 'application/json', ...headers } });
      expect(r, JSON.stringify(headers)).toMatchObject({ status: 401, body: { error: 'Login failed' } });
    }
    expect(done).toEqual([]);
  });

  it('curl-style requests (no Origin, any or no content type) and same-origin pages still work', async () => {
    expect(await request(port, { method: 'POST', body: addUser('a') })).toMatchObject({ status: 200, body: { by: 'admin' } });
    expect(await request(port, { method: 'POST', body: addUser('b'), headers: { 'content-type': 'application/x-www-form-urlencoded' } })).toMatchObject({ status: 200 });
    const same = await request(port, { method: 'POST', body: addUser('c'), headers: { 'content-type': 'application/json; charset=utf-8', origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' } });
    expect(same).toMatchObject({ status: 200, body: { by: 'admin' } });
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('fromAnotherSite compares the Origin with the request\'s own Host, default ports included', () => {
    const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
    expect(fromAnotherSite(req({ host: 'localhost', origin: 'http://localhost:80' }))).toBe(false);
    expect(fromAnotherSite(req({ host: 'localhost:443', origin: 'https://localhost' }))).toBe(false);
    expect(fromAnotherSite(req({ host: 'localhost:9925', origin: 'http://localhost:9926' }))).toBe(true);
    expect(fromAnotherSite(req({ host: 'localhost:9925', origin: 'file://' }))).toBe(true);
    expect(fromAnotherSite(req({ host: 'localhost:9925' }))).toBe(false);
    expect(fromAnotherSite(req({ host: 'localhost:9925', 'sec-fetch-site': 'none' }))).toBe(false);
  });
});
