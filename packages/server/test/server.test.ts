import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { connect } from 'node:net';
import { HarperServer, type AuthOutcome } from '../src/server.js';
import type { OperationHandler } from '../src/operations/types.js';
import { memoryLogger } from './helpers/logger.js';
import { request } from './helpers/request.js';

describe('HarperServer routes', () => {
  const { logger, lines } = memoryLogger();
  let server: HarperServer;
  let app: number;
  let ops: number;
  // "Authorization: let-me-in" authenticates alice (super_user); "Authorization: bob" is a plain user.
  const authenticate = async (req: http.IncomingMessage): Promise<AuthOutcome> => {
    if (req.headers.authorization === 'let-me-in') return { ok: true, user: { username: 'alice', role: 'super_user' }, method: 'basic' };
    if (req.headers.authorization === 'bob') return { ok: true, user: { username: 'bob', role: 'reader' }, method: 'jwt' };
    return { ok: false, status: 401, error: 'Login failed', reason: 'test' };
  };
  const echo: OperationHandler = async (body, caller) => {
    if (body.operation === 'echo') return { status: 200, body: { caller: caller?.username ?? null, body } };
    if (body.operation === 'create_authentication_tokens') return { status: 200, body: { anonymous: caller === undefined } };
    if (body.operation === 'boom') throw new Error('handler bug');
    return undefined;
  };

  beforeAll(async () => {
    server = new HarperServer({
      logger,
      host: '127.0.0.1',
      bodyLimit: 1024,
      listeners: [
        { name: 'http', api: 'app', port: 0, authenticate },
        { name: 'operations', api: 'operations', port: 0, authenticate },
      ],
      operations: [echo],
      operationsRoutes: [(req, res, url) => (url.pathname === '/extra' ? (res.end('extra'), true) : false)],
    });
    const info = await server.listen();
    app = info.find((i) => i.name === 'http')!.port;
    ops = info.find((i) => i.name === 'operations')!.port;
    expect(info.map((i) => i.url)).toEqual([`http://127.0.0.1:${app}/`, `http://127.0.0.1:${ops}/`]);
  });
  afterAll(() => server.close());

  it('GET /health answers 200 without authentication on both APIs', async () => {
    expect(await request(app, { path: '/health' })).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await request(ops, { path: '/health' })).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('GET /whoami names the user and the method, or 401 Login failed', async () => {
    expect(await request(app, { path: '/whoami', headers: { authorization: 'let-me-in' } })).toMatchObject({ status: 200, body: { username: 'alice', role: 'super_user', authenticatedBy: 'basic' } });
    expect(await request(app, { path: '/whoami' })).toMatchObject({ status: 401, body: { error: 'Login failed' } });
  });

  it('routes by the URL pathname: a query, dot segments or escapes reach the same endpoint', async () => {
    for (const path of ['/whoami?x=1', '/a/../whoami', '/./whoami', '/whoami#frag']) {
      expect(await request(app, { path, headers: { authorization: 'let-me-in' } })).toMatchObject({ status: 200, body: { username: 'alice' } });
    }
    expect((await request(app, { path: '/whoami/' })).status).toBe(404);
  });

  it('a request target URL parsing rejects is a 400 with a request id on both APIs, logged as no error, and the server keeps serving', async () => {
    const raw = (port: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port }, () => s.write('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        let text = '';
        s.setEncoding('latin1');
        s.on('data', (c) => (text += c));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
    const errorsBefore = lines.filter((l) => Number(l.level) >= 50).length;
    for (const port of [app, ops]) {
      const text = await raw(port);
      expect(text).toMatch(/^HTTP\/1\.1 400 /);
      expect(text).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
      expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'invalid request target' });
    }
    expect(lines.filter((l) => Number(l.level) >= 50).length).toBe(errorsBefore);
    expect((await request(app, { path: '/health' })).status).toBe(200);
  });

  it('every answer carries the request id: JSON answers, 401, 404 and extra routes', async () => {
    for (const [port, path, headers] of [[app, '/health', {}], [app, '/whoami', {}], [app, '/nope', {}], [ops, '/extra', {}], [ops, '/', { authorization: 'let-me-in' }]] as const) {
      const r = await request(port, { path, headers: { ...headers, 'x-request-id': 'rid-1' } });
      expect(r.headers['x-request-id']).toBe('rid-1');
    }
  });

  it('answers 404 JSON for unknown paths and carries a request id', async () => {
    const r = await request(app, { path: '/nope' });
    expect(r).toMatchObject({ status: 404, body: { error: 'Not found' } });
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const given = await request(app, { path: '/nope', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
  });

  it('dispatches operations with the caller', async () => {
    const r = await request(ops, { method: 'POST', body: JSON.stringify({ operation: 'echo', x: 1 }), headers: { authorization: 'bob' } });
    expect(r).toMatchObject({ status: 200, body: { caller: 'bob', body: { operation: 'echo', x: 1 } } });
  });

  it('requires authentication except for the token operations', async () => {
    expect(await request(ops, { method: 'POST', body: JSON.stringify({ operation: 'echo' }) })).toMatchObject({ status: 401, body: { error: 'Login failed' } });
    expect(await request(ops, { method: 'POST', body: JSON.stringify({ operation: 'create_authentication_tokens' }) })).toMatchObject({ status: 200, body: { anonymous: true } });
  });

  it.each([
    ['invalid JSON', '{"operation":', 400, /not valid JSON/],
    ['an array', '[1]', 400, /JSON object/],
    ['an empty body', '', 400, /empty/],
    ['no operation', '{"x":1}', 400, /"operation"/],
    ['a number as operation', '{"operation":5}', 400, /"operation"/],
    ['an oversized body', JSON.stringify({ operation: 'echo', pad: 'x'.repeat(2000) }), 413, /over 1024 bytes/],
  ])('rejects %s with a JSON error', async (_n, body, status, message) => {
    const r = await request(ops, { method: 'POST', body, headers: { authorization: 'let-me-in' } });
    expect(r.status).toBe(status);
    expect(r.body.error).toMatch(message);
  });

  it('404s an unknown operation by name', async () => {
    expect(await request(ops, { method: 'POST', body: '{"operation":"fly"}', headers: { authorization: 'let-me-in' } })).toMatchObject({ status: 404, body: { error: "Unknown operation 'fly'" } });
  });

  it('turns a handler bug into a logged 500 without details, and keeps serving', async () => {
    const r = await request(ops, { method: 'POST', body: '{"operation":"boom"}', headers: { authorization: 'let-me-in' } });
    expect(r).toMatchObject({ status: 500, body: { error: 'Internal server error' } });
    expect(lines.some((l) => l.msg === 'request failed')).toBe(true);
    expect((await request(ops, { path: '/health' })).status).toBe(200);
  });

  it('serves extra routes on the Operations API', async () => {
    expect((await request(ops, { path: '/extra' })).body).toBe('extra');
  });

  it('reports a port in use as a clear error', async () => {
    const other = new HarperServer({ logger, host: '127.0.0.1', listeners: [{ name: 'http', api: 'app', port: app, authenticate }], operations: [] });
    await expect(other.listen()).rejects.toThrow(`http listener: cannot listen on port ${app}: the port is already in use`);
  });
});
