import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createCA, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import { createAuthenticator, createTokenService, handleAuthOperation, type UserStore } from '@harper-tls/mtls-auth';
import { openUserStore } from '../src/storage/user-store.js';
import { HarperServer } from '../src/server.js';
import { TlsContextSet } from '../src/tls/context-set.js';
import { buildEntry } from '../src/tls/material.js';
import { metricsRoute } from '../src/routes/local-ca.js';
import { memoryLogger } from './helpers/logger.js';
import { httpsRequest } from './helpers/client.js';

function post(port: number, body: unknown, headers: Record<string, string> = {}, path = '/', method = 'POST'): Promise<{ status: number; body: any; id: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let t = '';
      res.on('data', (c) => (t += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(t), id: String(res.headers['x-request-id']) }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? JSON.stringify(body) : undefined);
  });
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** Issue 5: one `authentication failed` line per refused request, with reason, request id and remote address; no secrets. */
describe('audit log of refused requests (HarperServer + mtls-auth)', () => {
  const { logger, lines } = memoryLogger('debug');
  const PASSWORD = 'alice-correct-horse-42';
  const WRONG = 'wrong-battery-staple-17';
  const NEW_PASSWORD = 'fresh-user-password-99';
  let dir: string;
  let users: UserStore;
  let server: HarperServer;
  let ca: KeyAndCert;
  let leaf: KeyAndCert;
  const clients: Record<string, KeyAndCert> = {};
  let httpsPort: number;
  let opsPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-audit-'));
    users = await openUserStore({ path: join(dir, 'users.mdb') });
    await users.create({ username: 'alice', password: PASSWORD, role: 'super_user' });
    await users.create({ username: 'carol', password: PASSWORD, role: 'reader', active: false });
    const tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 120_000 });
    ca = await createCA({ commonName: 'Audit CA', days: 10 });
    leaf = await issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost'], days: 10 });
    for (const cn of ['alice', 'carol', 'ghost']) clients[cn] = await issueCertificate({ ca, kind: 'client', commonName: cn, days: 10 });
    const contexts = new TlsContextSet({ entries: [buildEntry({ certPem: leaf.certificatePem, keyPem: leaf.privateKeyPem, caPem: ca.certificatePem, name: 'tls' })], defaultIndex: 0 }, 'https');
    const mtls = { required: false, user: { kind: 'cn' as const }, certificateVerification: false as const };
    const appAuth = createAuthenticator({ users, tokens, mtls, trustedCas: [new X509Certificate(ca.certificatePem)] });
    const opsAuth = createAuthenticator({ users, tokens, mtls: false, trustedCas: [] });
    server = new HarperServer({
      logger,
      host: '127.0.0.1',
      listeners: [
        { name: 'https', api: 'app', port: 0, tls: { contexts, mtls }, authenticate: (req) => appAuth.authenticate(req) },
        { name: 'operations', api: 'operations', port: 0, authenticate: (req) => opsAuth.authenticate(req) },
      ],
      operations: [async (body, caller) => handleAuthOperation({ users, tokens, caller }, body)],
      operationsRoutes: [metricsRoute(async () => ({ contentType: 'text/plain', body: 'm 1\n' }))],
    });
    const info = await server.listen();
    httpsPort = info.find((i) => i.name === 'https')!.port;
    opsPort = info.find((i) => i.name === 'operations')!.port;
  });
  afterAll(async () => {
    await server.close();
    await users.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const refusals = (reqId: string) => lines.filter((l) => l.msg === 'authentication failed' && l.reqId === reqId);

  it.each([
    ['an unknown CN', 'ghost', /certificate user unknown/],
    ['an inactive user', 'carol', /certificate user inactive/],
  ])('mTLS with %s: 401 Login failed, one line with the reason', async (_what, cn, reason) => {
    const reqId = `mtls-${cn}`;
    const r = await httpsRequest({ port: httpsPort, path: '/whoami', ca: ca.certificatePem, cert: clients[cn]!.certificatePem, key: clients[cn]!.privateKeyPem, headers: { 'x-request-id': reqId } });
    expect(r).toMatchObject({ status: 401, body: { error: 'Login failed' } });
    expect(Object.keys(r.body)).toEqual(['error']);
    const mine = refusals(reqId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: 30, listener: 'https', remote: '127.0.0.1', path: '/whoami' });
    expect(mine[0]!.reason).toMatch(reason);
  });

  it('a wrong Basic password on the application listener: one line', async () => {
    const r = await httpsRequest({ port: httpsPort, path: '/whoami', ca: ca.certificatePem, headers: { 'x-request-id': 'basic-wrong', authorization: basic('alice', WRONG) } });
    expect(r).toMatchObject({ status: 401, body: { error: 'Login failed' } });
    expect(refusals('basic-wrong')).toHaveLength(1);
    expect(refusals('basic-wrong')[0]!.reason).toMatch(/wrong password/);
  });

  it.each([
    ['a wrong password on an operation', { operation: 'user_info' }, { authorization: basic('alice', WRONG) }, '/', 'POST', /wrong password/],
    ['a bad bearer token', { operation: 'list_users' }, { authorization: 'Bearer not.a.token' }, '/', 'POST', /invalid or expired token/],
    ['wrong credentials in create_authentication_tokens', { operation: 'create_authentication_tokens', username: 'alice', password: WRONG }, {}, '/', 'POST', /create_authentication_tokens: wrong password/],
    ['an inactive user in create_authentication_tokens', { operation: 'create_authentication_tokens', username: 'carol', password: PASSWORD }, {}, '/', 'POST', /create_authentication_tokens: wrong password, unknown or inactive/],
    ['a bad refresh token', { operation: 'refresh_operation_token', refresh_token: 'x.y.z' }, {}, '/', 'POST', /refresh_operation_token: invalid/],
    ['GET /metrics without credentials', undefined, {}, '/metrics', 'GET', /no credentials/],
  ])('Operations API, %s: 401, one line', async (name, body, headers, path, method, reason) => {
    const reqId = `ops-${name.replace(/[^\w]+/g, '-').slice(0, 50)}`;
    const r = await post(opsPort, body, { ...headers, 'x-request-id': reqId }, path, method);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'Login failed' });
    const mine = refusals(reqId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: 30, listener: 'operations', remote: '127.0.0.1' });
    expect(mine[0]!.reason).toMatch(reason);
  });

  it('accepted requests log no refusal', async () => {
    const before = lines.filter((l) => l.msg === 'authentication failed').length;
    const r = await httpsRequest({ port: httpsPort, path: '/whoami', ca: ca.certificatePem, cert: clients.alice!.certificatePem, key: clients.alice!.privateKeyPem });
    expect(r).toMatchObject({ status: 200, body: { username: 'alice', authenticatedBy: 'mtls' } });
    const ok = await post(opsPort, { operation: 'add_user', username: 'dave', password: NEW_PASSWORD, role: 'reader' }, { authorization: basic('alice', PASSWORD), 'x-request-id': 'add-dave' });
    expect(ok.status).toBe(200);
    expect(lines.filter((l) => l.msg === 'authentication failed').length).toBe(before);
    expect(lines.find((l) => l.reqId === 'add-dave')).toMatchObject({ msg: 'operation', operation: 'add_user', user: 'alice', status: 200 });
  });

  it('no line ever carries a password, an Authorization header or a private key', () => {
    const text = JSON.stringify(lines);
    expect(lines.length).toBeGreaterThan(8);
    for (const secret of [PASSWORD, WRONG, NEW_PASSWORD, 'not.a.token', 'PRIVATE KEY', Buffer.from(`alice:${WRONG}`).toString('base64'), 'Basic ', 'Bearer']) {
      expect(text).not.toContain(secret);
    }
    expect(text.toLowerCase()).not.toContain('authorization');
  });
});
