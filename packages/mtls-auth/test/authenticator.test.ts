import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { request, Agent } from 'node:https';
import { connect as h2connect, createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CRL_DEFAULTS, OCSP_DEFAULTS, type MtlsConfig } from '@harper-tls/config';
import { createCA, createCrl, issueCertificate } from '@harper-tls/cert-gen';
import { createRevocationChecker } from '@harper-tls/revocation';
import { createAuthenticator, createTokenService, createMemoryUserStore, type UserStore, type TokenService } from '../src/index.js';
import { makePki, type TestPki, type Pem } from './certs.js';
import { fakeChecker, rawRequests, startServer } from './helpers.js';

let pki: TestPki;
let users: UserStore;
let tokens: TokenService;
const cleanups: Array<() => Promise<void>> = [];
const basic = (u: string, p: string) => ({ Authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });
const VERIFY = { enabled: true } as unknown as MtlsConfig['certificateVerification'];

beforeAll(async () => {
  pki = makePki();
  users = createMemoryUserStore();
  await users.create({ username: 'alice', password: 'alice-pw', role: 'super_user' });
  await users.create({ username: 'bob', password: 'bob-pw', role: 'user', active: false });
  await users.create({ username: 'jörg', password: 'x', role: 'user' });
  await users.create({ username: 'dave', password: 'x', role: 'user' });
  tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 120_000 });
});
afterAll(async () => {
  for (const c of cleanups) await c();
  await users.close();
});

async function serve(mtls: MtlsConfig | false, extra: { checker?: ReturnType<typeof fakeChecker>; server?: Pem; ca?: Pem; ticketKeys?: Buffer } = {}) {
  const ca = extra.ca ?? pki.caA;
  const auth = createAuthenticator({ users, tokens, mtls, trustedCas: [ca.x509], revocation: extra.checker });
  const required = mtls ? mtls.required : false;
  const s = await startServer(auth, { key: (extra.server ?? pki.server).key, cert: (extra.server ?? pki.server).cert, ca: [ca.cert], requestCert: !!mtls, rejectUnauthorized: required, ticketKeys: extra.ticketKeys, sessionIdContext: 'harper-tls-test' });
  cleanups.push(s.close);
  return s;
}

const client = (c?: Pem) => ({ ca: [pki.caA.cert, pki.caB.cert], ...(c ? { cert: c.cert, key: c.key } : {}) });
const one = async (port: number, c: Pem | undefined, headers: Record<string, string> = {}) => {
  const r = await rawRequests(port, client(c), [headers]);
  if (r.error) throw r.error;
  return r.replies[0]!;
};

describe('mTLS required', () => {
  let port: number;
  beforeAll(async () => {
    port = (await serve({ required: true, user: { kind: 'cn' }, certificateVerification: false })).port;
  });

  it('rejects the handshake without a client certificate', async () => {
    const r = await rawRequests(port, client(), [{}]);
    expect(r.error).toBeDefined();
    expect(r.replies).toHaveLength(0);
  });

  it('authenticates CN=alice as alice by mtls', async () => {
    const r = await one(port, pki.alice);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ username: 'alice', role: 'super_user', authenticatedBy: 'mtls' });
  });

  it('reads a UTF-8 CN exactly (jörg)', async () => {
    expect((await one(port, pki.jorg)).body.username).toBe('jörg');
  });

  it.each([
    ['inactive user bob', 'bob'],
    ['unknown CN', 'unknown'],
    ['two CNs', 'twoCns'],
    ['no CN', 'noCn'],
    ['CN with "," and "="', 'commaCn'],
  ] as const)('401 Login failed for %s', async (_label, name) => {
    const r = await one(port, pki[name]);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('Login failed');
  });

  it('does not fall back to Basic when mTLS is required and the cert user is inactive', async () => {
    const r = await one(port, pki.bob, basic('alice', 'alice-pw'));
    expect(r.status).toBe(401);
  });

  it('works with curl', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '--cacert', join(pki.dir, 'caA.crt'), '--cert', join(pki.dir, 'alice.crt'), '--key', join(pki.dir, 'alice.key'), '-w', ' %{http_code}', `https://localhost:${port}/whoami`, '--resolve', `localhost:${port}:127.0.0.1`], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out).toBe('{"username":"alice","role":"super_user","authenticatedBy":"mtls"} 200');
  });
});

describe('mTLS optional (rejectUnauthorized false): our own chain check and the fallback', () => {
  let port: number;
  beforeAll(async () => {
    port = (await serve({ required: false, user: { kind: 'cn' }, certificateVerification: false })).port;
  });

  it('no credentials at all → 401 "no credentials"', async () => {
    const r = await one(port, undefined);
    expect(r).toMatchObject({ status: 401, body: { error: 'Login failed', reason: 'no credentials' } });
  });

  it('Basic without a certificate', async () => {
    expect((await one(port, undefined, basic('alice', 'alice-pw'))).body.authenticatedBy).toBe('basic');
  });

  it.each([
    ['an untrusted CA', 'untrustedAlice', /trusted CA/],
    ['an expired certificate', 'expired', /expired/],
    ['a not-yet-valid certificate', 'notYet', /not valid yet/],
    ['a serverAuth-only EKU', 'serverAuthOnly', /extended key usage/],
  ] as const)('CN=alice from %s is not accepted, Basic in the same request is', async (_l, name, why) => {
    const alone = await one(port, pki[name]);
    expect(alone.status).toBe(401);
    expect(alone.body.error).toBe('Login failed');
    expect(String(alone.body.reason)).toMatch(why);
    const withBasic = await one(port, pki[name], basic('alice', 'alice-pw'));
    expect(withBasic.body).toMatchObject({ username: 'alice', authenticatedBy: 'basic' });
  });

  it('an inactive certificate user falls back to Basic credentials in the same request', async () => {
    expect((await one(port, pki.bob, basic('alice', 'alice-pw'))).body.authenticatedBy).toBe('basic');
  });

  it('wrong password, unknown user and inactive user → 401 Login failed', async () => {
    for (const h of [basic('alice', 'nope'), basic('nobody', 'x'), basic('bob', 'bob-pw')]) {
      expect(await one(port, undefined, h)).toMatchObject({ status: 401, body: { error: 'Login failed' } });
    }
  });

  it('Bearer operation token → jwt; a refresh token is not an operation token', async () => {
    const t = await tokens.createTokens('alice');
    expect((await one(port, undefined, { Authorization: `Bearer ${t.operation_token}` })).body.authenticatedBy).toBe('jwt');
    expect((await one(port, undefined, { Authorization: `Bearer ${t.refresh_token}` })).status).toBe(401);
    const bobTokens = await tokens.createTokens('bob');
    expect((await one(port, undefined, { Authorization: `Bearer ${bobTokens.operation_token}` })).status).toBe(401);
  });

  it('a huge header gets 431 and the server keeps serving', async () => {
    const r = await rawRequests(port, client(), [{ Authorization: 'Basic ' + 'A'.repeat(64 * 1024) }]);
    expect(r.replies[0]?.status).toBe(431);
    expect((await one(port, undefined, basic('alice', 'alice-pw'))).status).toBe(200);
  });

  it('caches a Basic password check per connection, and drops it when the password changes', async () => {
    await users.create({ username: 'carol', password: 'carol-pw', role: 'user' });
    const r = await rawRequests(port, client(), Array.from({ length: 4 }, () => basic('carol', 'carol-pw')));
    expect(r.replies.map((x) => x.status)).toEqual([200, 200, 200, 200]);
    // The same connection must not keep authenticating an old password.
    const mixed = await rawRequests(port, client(), [basic('carol', 'carol-pw'), basic('carol', 'wrong'), basic('carol', 'carol-pw')]);
    expect(mixed.replies.map((x) => x.status)).toEqual([200, 401, 200]);
  });
});

describe('mtls.user fixed and none', () => {
  it('fixed: every trusted certificate is that user', async () => {
    const { port } = await serve({ required: true, user: { kind: 'fixed', username: 'alice' }, certificateVerification: false });
    expect((await one(port, pki.unknown)).body).toMatchObject({ username: 'alice', authenticatedBy: 'mtls' });
  });
  it('none: the certificate names no user; credentials are still needed', async () => {
    const { port } = await serve({ required: true, user: { kind: 'none' }, certificateVerification: false });
    expect((await one(port, pki.alice)).status).toBe(401);
    expect((await one(port, pki.alice, basic('alice', 'alice-pw'))).body.authenticatedBy).toBe('basic');
  });
});

describe('revocation gate', () => {
  it('a denying checker → 401 "Certificate revoked or verification failed", even with Basic', async () => {
    const checker = fakeChecker('revoked');
    const { port } = await serve({ required: false, user: { kind: 'cn' }, certificateVerification: VERIFY }, { checker });
    const r = await one(port, pki.alice, basic('alice', 'alice-pw'));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('Certificate revoked or verification failed');
    expect(checker.state.calls).toBe(1);
  });

  it('is consulted once per connection for N keep-alive requests', async () => {
    const checker = fakeChecker('good');
    const { port } = await serve({ required: true, user: { kind: 'cn' }, certificateVerification: VERIFY }, { checker });
    const r = await rawRequests(port, client(pki.alice), Array.from({ length: 6 }, () => ({})));
    expect(r.replies.map((x) => x.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(checker.state.calls).toBe(1);
  });

  it('refuses to be built without a checker when certificateVerification is on', () => {
    expect(() => createAuthenticator({ users, tokens, mtls: { required: true, user: { kind: 'cn' }, certificateVerification: VERIFY }, trustedCas: [] })).toThrow(/revocation/);
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: a resumed session is re-checked (checker flipped to revoked → 401)`, async () => {
      const checker = fakeChecker('good');
      const { port } = await serve({ required: true, user: { kind: 'cn' }, certificateVerification: VERIFY }, { checker });
      const opts = { ...client(pki.alice), minVersion: version, maxVersion: version };
      const first = await rawRequests(port, opts, [{}]);
      expect(first.replies[0]?.status).toBe(200);
      expect(first.session).toBeDefined();
      checker.state.status = 'revoked';
      const second = await rawRequests(port, { ...opts, session: first.session }, [{}]);
      expect(second.replies[0]?.reused).toBe(true);
      expect(second.replies[0]?.status).toBe(401);
      expect(second.replies[0]?.body.error).toBe('Certificate revoked or verification failed');
      expect(checker.state.calls).toBe(2);
    });

    it(`${version}: a session from a CA-A server is not authenticated by a CA-B server`, async () => {
      const ticketKeys = randomBytes(48); // shared, so the resumption really happens on server B
      const mtls = { required: true, user: { kind: 'cn' }, certificateVerification: false } as const;
      const a = await serve(mtls, { ticketKeys });
      const b = await serve(mtls, { ticketKeys, ca: pki.caB, server: pki.serverB });
      const opts = { ...client(pki.alice), minVersion: version, maxVersion: version };
      const first = await rawRequests(a.port, opts, [{}]);
      expect(first.replies[0]?.body.authenticatedBy).toBe('mtls');
      const second = await rawRequests(b.port, { ...opts, session: first.session }, [{}]);
      expect(second.error).toBeUndefined();
      expect(second.replies[0]?.reused).toBe(true);
      expect(second.replies[0]?.status).toBe(401);
      expect(String(second.replies[0]?.body.reason)).toMatch(/trusted CA/);
    });
  }
});

describe('sanMapping (beyond Harper)', () => {
  it('maps a SPIFFE URI SAN to the user', async () => {
    const auth = createAuthenticator({ users, tokens, mtls: { required: true, user: { kind: 'cn' }, certificateVerification: false }, trustedCas: [pki.caA.x509], sanMapping: { type: 'uri', pattern: 'spiffe://example\\.org/user/(.+)' } });
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: true });
    cleanups.push(s.close);
    expect((await one(s.port, pki.spiffe)).body).toMatchObject({ username: 'alice', authenticatedBy: 'mtls' });
    expect((await one(s.port, pki.alice)).status).toBe(401); // CN is not used when sanMapping is on
  });
});

describe('node https client', () => {
  it('keep-alive agent requests reuse one connection', async () => {
    const checker = fakeChecker('good');
    const { port } = await serve({ required: true, user: { kind: 'cn' }, certificateVerification: VERIFY }, { checker });
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: [pki.caA.cert], cert: pki.alice.cert, key: pki.alice.key });
    try {
      for (let i = 0; i < 5; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', servername: 'localhost', port, path: '/whoami', agent }, (res) => {
            let b = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (b += c));
            res.on('end', () => resolve(b));
          });
          req.on('error', reject);
          req.end();
        });
        expect(JSON.parse(body).username).toBe('alice');
      }
      expect(checker.state.calls).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});

describe('HTTP/2', () => {
  it('authenticates by mTLS and checks revocation once per HTTP/2 connection', async () => {
    const checker = fakeChecker('good');
    const auth = createAuthenticator({ users, tokens, mtls: { required: true, user: { kind: 'cn' }, certificateVerification: VERIFY }, trustedCas: [pki.caA.x509], revocation: checker });
    const server = createSecureServer({ key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: true }, (req, res) => {
      void auth.authenticate(req).then((r) => {
        res.writeHead(r.ok ? 200 : 401);
        res.end(r.ok ? `${r.user.username}/${r.method}` : r.error);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const session = h2connect(`https://localhost:${(server.address() as AddressInfo).port}`, { ca: [pki.caA.cert], cert: pki.alice.cert, key: pki.alice.key, host: '127.0.0.1', servername: 'localhost', lookup: (_h, _o, cb) => (cb as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4) });
    try {
      const get = () =>
        new Promise<string>((resolve, reject) => {
          const s = session.request({ ':path': '/whoami' });
          let b = '';
          s.setEncoding('utf8');
          s.on('data', (c) => (b += c));
          s.on('end', () => resolve(b));
          s.on('error', reject);
          s.end();
        });
      expect(await Promise.all([get(), get(), get(), get()])).toEqual(Array(4).fill('alice/mtls'));
      expect(checker.state.calls).toBe(1);
    } finally {
      session.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('per-connection user cache', () => {
  const MTLS = { required: true, user: { kind: 'cn' }, certificateVerification: false } as const;
  async function setup(wrap: (s: UserStore) => UserStore = (s) => s, extra: Partial<Parameters<typeof createAuthenticator>[0]> = {}) {
    const store = createMemoryUserStore();
    cleanups.push(() => store.close());
    await store.create({ username: 'alice', password: 'alice-pw', role: 'super_user' });
    let gets = 0;
    const counted: UserStore = { ...store, get: (u) => (gets++, store.get(u)) };
    const auth = createAuthenticator({ users: wrap(counted), tokens, mtls: MTLS, trustedCas: [pki.caA.x509], ...extra });
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: true });
    cleanups.push(s.close);
    return { store, port: s.port, gets: () => gets };
  }

  it('looks the user up once for N keep-alive requests', async () => {
    const { port, gets } = await setup();
    const r = await rawRequests(port, client(pki.alice), Array(6).fill({}));
    expect(r.replies.map((x) => x.status)).toEqual(Array(6).fill(200));
    expect(gets()).toBe(1);
  });

  it('alter_user active:false, drop_user and re-create apply to the next request on the same connection', async () => {
    const { store, port } = await setup();
    const steps: Array<() => Promise<unknown>> = [
      () => store.alter('alice', { active: false }),
      () => store.alter('alice', { active: true }),
      () => store.drop('alice'),
      () => store.create({ username: 'alice', password: 'pw2', role: 'reader' }),
    ];
    const r = await rawRequests(port, client(pki.alice), Array(5).fill({}), 5000, async (n) => void (await steps[n - 1]!()));
    expect(r.error).toBeUndefined();
    expect(r.replies.map((x) => [x.status, x.body.reason ?? x.body.role])).toEqual([
      [200, 'super_user'],
      [401, 'certificate user inactive'],
      [200, 'super_user'],
      [401, 'certificate user unknown'],
      [200, 'reader'],
    ]);
  });

  it('a change the generation counter cannot see (another process) applies after userCacheTtlMs', async () => {
    let t = Date.now();
    const { store, port } = await setup((s) => ({ ...s, generation: () => 0 }), { userCacheTtlMs: 50, now: () => new Date(t) });
    const r = await rawRequests(port, client(pki.alice), Array(3).fill({}), 5000, async (n) => {
      if (n === 1) await store.alter('alice', { active: false });
      if (n === 2) t += 51;
    });
    expect(r.replies.map((x) => x.status)).toEqual([200, 200, 401]);
  });

  it('userCacheTtlMs: 0, or a store without generation(), looks the user up on every request', async () => {
    for (const [wrap, extra] of [[(s: UserStore) => s, { userCacheTtlMs: 0 }], [(s: UserStore) => ({ ...s, generation: undefined }), {}]] as const) {
      const { port, gets } = await setup(wrap, extra);
      await rawRequests(port, client(pki.alice), Array(4).fill({}));
      expect(gets()).toBe(4);
    }
  });
});

describe('credentialCacheTtlMs (authentication.cacheTTL) bounds the per-connection Basic cache', () => {
  it('reuses a verified password within the TTL and verifies it again after', async () => {
    const store = createMemoryUserStore();
    cleanups.push(() => store.close());
    await store.create({ username: 'carol', password: 'carol-pw', role: 'reader' });
    let verifies = 0;
    const counted: UserStore = { ...store, verifyPassword: (u, p) => (verifies++, store.verifyPassword(u, p)) };
    let t = Date.now();
    const auth = createAuthenticator({ users: counted, tokens, mtls: false, trustedCas: [], credentialCacheTtlMs: 1000, now: () => new Date(t) });
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: false, rejectUnauthorized: false });
    cleanups.push(s.close);
    const basic = { authorization: `Basic ${Buffer.from('carol:carol-pw').toString('base64')}` };
    const r = await rawRequests(s.port, { ca: [pki.caA.cert] }, Array(4).fill(basic), 5000, async (n) => {
      if (n === 2) t += 1001;
    });
    expect(r.replies.map((x) => x.status)).toEqual([200, 200, 200, 200]);
    expect(verifies).toBe(2); // requests 1 and 3 (after the TTL); 2 and 4 from the cache
    verifies = 0;
    const none = createAuthenticator({ users: counted, tokens, mtls: false, trustedCas: [], credentialCacheTtlMs: 0 });
    const s0 = await startServer(none, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: false, rejectUnauthorized: false });
    cleanups.push(s0.close);
    await rawRequests(s0.port, { ca: [pki.caA.cert] }, Array(3).fill(basic));
    expect(verifies).toBe(3);
  });
});

describe('certificate cache across connections', () => {
  it('a reconnecting client is still checked for validity on every connection (signature results are cached, dates are not)', async () => {
    let t = Date.now();
    const auth = createAuthenticator({ users, tokens, mtls: { required: false, user: { kind: 'cn' }, certificateVerification: false }, trustedCas: [pki.caA.x509], now: () => new Date(t) });
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: false });
    cleanups.push(s.close);
    expect((await one(s.port, pki.alice)).status).toBe(200);
    expect((await one(s.port, pki.alice)).status).toBe(200);
    t += 400 * 86_400_000; // past the test certificates' validity
    const later = await one(s.port, pki.alice);
    expect(later.status).toBe(401);
    expect(String(later.body.reason)).toMatch(/expired/);
  });

  it('a certificate of another CA stays untrusted on reconnect', async () => {
    const auth = createAuthenticator({ users, tokens, mtls: { required: false, user: { kind: 'cn' }, certificateVerification: false }, trustedCas: [pki.caB.x509] });
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert, pki.caB.cert], requestCert: true, rejectUnauthorized: false });
    cleanups.push(s.close);
    for (let i = 0; i < 2; i++) expect((await one(s.port, pki.alice)).body.reason).toMatch(/does not chain to a trusted CA/);
  });
});

describe('logging', () => {
  it('logs the reason of a failure, never the password', async () => {
    const lines: Array<{ obj: object; msg?: string }> = [];
    const logger = { info: (obj: object, msg?: string) => lines.push({ obj, msg }), warn: (obj: object, msg?: string) => lines.push({ obj, msg }) };
    const auth = createAuthenticator({ users, tokens, mtls: false, trustedCas: [], logger });
    const r = await auth.authenticate({ headers: { authorization: basic('alice', 'secret-guess').Authorization }, socket: {} } as never);
    expect(r).toMatchObject({ ok: false, error: 'Login failed' });
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).toMatch(/wrong password/);
    expect(JSON.stringify(lines)).not.toMatch(/secret-guess/);
  });

  it('standalone: exactly one info line per refused request, with reason, remote and x-request-id; none without a logger or on success', async () => {
    const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
    const logger = { info: (obj: object, msg?: string) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }), warn: (obj: object, msg?: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) };
    const auth = createAuthenticator({ users, tokens, mtls: false, trustedCas: [], logger });
    const req = (headers: Record<string, string>) => ({ headers, socket: { remoteAddress: '10.0.0.7' } }) as never;
    expect(await auth.authenticate(req({ authorization: 'Bearer abc.def.ghi', 'x-request-id': 'req-42' }))).toMatchObject({ ok: false });
    expect(lines).toEqual([{ level: 'info', msg: 'authentication failed', obj: { reason: 'invalid or expired token', remote: '10.0.0.7', reqId: 'req-42' } }]);
    await auth.authenticate(req({ 'x-request-id': 'bad id with spaces' }));
    expect(lines).toHaveLength(2);
    expect(lines[1]!.obj).toEqual({ reason: 'no credentials', remote: '10.0.0.7' });
    expect(JSON.stringify(lines)).not.toMatch(/abc\.def\.ghi|authorization/i);
    const silent = createAuthenticator({ users, tokens, mtls: false, trustedCas: [] });
    expect(await silent.authenticate(req({}))).toMatchObject({ ok: false, reason: 'no credentials' });
    expect(lines).toHaveLength(2);
  });
});

describe('robustness', () => {
  it('a throwing trust-store callback fails closed with 401, not a rejection', async () => {
    const auth = createAuthenticator({ users, tokens, mtls: { required: false, user: { kind: 'cn' }, certificateVerification: false }, trustedCas: () => { throw new Error('boom'); } });
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: false });
    cleanups.push(s.close);
    const r = await one(s.port, pki.alice);
    expect(r.status).toBe(401);
    expect(String(r.body.reason)).toMatch(/boom/);
  });
});

describe('intermediate CA', () => {
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: a leaf under an intermediate the client sends is authenticated, also on resumption`, async () => {
      const checker = fakeChecker('good');
      const { port } = await serve({ required: true, user: { kind: 'cn' }, certificateVerification: VERIFY }, { checker });
      const opts = { ca: [pki.caA.cert], cert: pki.dave.cert + pki.inter.cert, key: pki.dave.key, minVersion: version, maxVersion: version };
      const first = await rawRequests(port, opts, [{}]);
      expect(first.replies[0]?.body).toMatchObject({ username: 'dave', authenticatedBy: 'mtls' });
      const second = await rawRequests(port, { ...opts, session: first.session }, [{}]);
      expect(second.replies[0]?.reused).toBe(true);
      expect(second.replies[0]?.status).toBe(200);
      expect(checker.state.calls).toBe(2);
    });

    it(`${version}: a session resumed on another process (shared ticket keys) that never saw the intermediate is authenticated once the first one shared it`, async () => {
      const ticketKeys = randomBytes(48);
      const mtls = { required: true, user: { kind: 'cn' }, certificateVerification: VERIFY } as const;
      const shared: Uint8Array[][] = [];
      const checkerB = fakeChecker('good');
      const authB = createAuthenticator({ users, tokens, mtls, trustedCas: [pki.caA.x509], revocation: checkerB });
      // Process A shares what it verified; the server's workers do this over IPC (workers/share.ts).
      const authA = createAuthenticator({ users, tokens, mtls, trustedCas: [pki.caA.x509], revocation: fakeChecker('good'), shareIntermediates: async (ders) => void (shared.push(ders), authB.addIntermediates(ders)) });
      const tls = { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: true, ticketKeys, sessionIdContext: 'harper-tls-test' };
      const a = await startServer(authA, tls);
      const b = await startServer(authB, tls);
      cleanups.push(a.close, b.close);
      const opts = { ca: [pki.caA.cert], cert: pki.dave.cert + pki.inter.cert, key: pki.dave.key, minVersion: version, maxVersion: version };
      const first = await rawRequests(a.port, opts, [{}, {}]);
      expect(first.replies.map((r) => r.body.username)).toEqual(['dave', 'dave']);
      expect(shared.map((ders) => ders.map((d) => new X509Certificate(d).fingerprint256))).toEqual([[pki.inter.x509.fingerprint256]]);
      const second = await rawRequests(b.port, { ...opts, session: first.session }, [{}]);
      expect(second.replies[0]?.reused).toBe(true);
      expect(second.replies[0]?.body).toMatchObject({ username: 'dave', authenticatedBy: 'mtls' });
      // Still a full check on B: revocation asked there.
      expect(checkerB.state.calls).toBe(1);
    });
  }

  it('addIntermediates takes only CA certificates, and they are only path candidates: a leaf of another CA stays untrusted', async () => {
    const auth = createAuthenticator({ users, tokens, mtls: { required: false, user: { kind: 'cn' }, certificateVerification: false }, trustedCas: [pki.caB.x509] });
    // The intermediate is under CA A, which this listener does not trust; a garbage DER and a leaf are ignored.
    auth.addIntermediates([new Uint8Array(pki.inter.x509.raw), new Uint8Array([1, 2, 3]), new Uint8Array(pki.alice.x509.raw)]);
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: false });
    cleanups.push(s.close);
    const r = await rawRequests(s.port, { ca: [pki.caA.cert], cert: pki.dave.cert, key: pki.dave.key }, [{}]);
    expect(r.replies[0]?.status).toBe(401);
    expect(String(r.replies[0]?.body.reason)).toMatch(/does not chain to a trusted CA/);
  });
});

describe('an open connection checks its certificate again (notAfter, revocation re-check interval)', () => {
  const DAY = 86_400_000;
  const TTL = 60_000;

  it('a keep-alive connection gets 401 on the first request after the leaf passes notAfter', async () => {
    let t = Date.now();
    const auth = createAuthenticator({ users, tokens, mtls: { required: false, user: { kind: 'cn' }, certificateVerification: false }, trustedCas: [pki.caA.x509], now: () => new Date(t) });
    const s = await startServer(auth, { key: pki.server.key, cert: pki.server.cert, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: false });
    cleanups.push(s.close);
    const r = await rawRequests(s.port, client(pki.alice), [{}, {}, {}], 10_000, async (n) => {
      if (n === 2) t = new Date(pki.alice.x509.validTo).getTime() + 1000; // alice is valid for 10 days
    });
    expect(r.error).toBeUndefined();
    expect(r.replies.map((x) => x.status)).toEqual([200, 200, 401]);
    expect(String(r.replies[2]!.body.reason)).toMatch(/expired/);
  });

  /** Root → alice (CRL distribution point on a local HTTP server whose answer the test sets), and a real revocation checker on the test clock. */
  async function crlSetup() {
    let t = Date.now();
    const now = () => new Date(t);
    let answer: { status: number; body?: Uint8Array } = { status: 503 };
    const crlServer = createHttpServer((_req, res) => {
      if (!answer.body) return void res.writeHead(answer.status).end();
      res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': answer.body.length }).end(answer.body);
    });
    await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((r) => { crlServer.closeAllConnections(); crlServer.close(() => r()); }));
    const url = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/root.crl`;
    const root = await createCA({ commonName: 'Recheck Test Root' });
    const server = await issueCertificate({ ca: root, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    const alice = await issueCertificate({ ca: root, kind: 'client', commonName: 'alice', crlUrl: url });
    let crlNumber = 0;
    const serveCrl = async (revoked: string[]) => {
      answer = { status: 200, body: await createCrl({ ca: root, crlNumber: ++crlNumber, revoked: revoked.map((serialHex) => ({ serialHex, revokedAt: new Date(t - 1000), reason: 'keyCompromise' as const })), thisUpdate: new Date(Date.now() - 60_000), nextUpdate: new Date(Date.now() + 7 * DAY) }) };
    };
    // Re-check interval = min(crl.cacheTtl, ocsp.errorCacheTtl) = TTL.
    const verification = { enabled: true, failureMode: 'fail-closed', crl: { ...CRL_DEFAULTS, cacheTtl: TTL }, ocsp: { ...OCSP_DEFAULTS, enabled: false, errorCacheTtl: TTL } } as const;
    const checker = createRevocationChecker({ config: verification, now });
    cleanups.push(() => checker.close());
    const auth = createAuthenticator({ users, tokens, mtls: { required: false, user: { kind: 'cn' }, certificateVerification: verification }, trustedCas: [new X509Certificate(root.certificatePem)], revocation: checker, now });
    const s = await startServer(auth, { key: server.privateKeyPem, cert: server.certificatePem, ca: [root.certificatePem], requestCert: true, rejectUnauthorized: false });
    cleanups.push(s.close);
    const opts = { ca: [root.certificatePem], cert: alice.certificatePem, key: alice.privateKeyPem };
    return { port: s.port, opts, alice, serveCrl, advance: (ms: number) => (t += ms), fail: () => (answer = { status: 503 }) };
  }

  it('a refreshed CRL that lists the leaf reaches the open connection after the re-check interval', async () => {
    const x = await crlSetup();
    await x.serveCrl([]);
    const r = await rawRequests(x.port, x.opts, [{}, {}, {}], 10_000, async (n) => {
      if (n === 1) await x.serveCrl([x.alice.serialHex]);
      if (n === 2) x.advance(TTL + 1000);
    });
    expect(r.error).toBeUndefined();
    // Within the interval the connection keeps its outcome; after it, the new CRL applies.
    expect(r.replies.map((y) => y.status)).toEqual([200, 200, 401]);
    expect(r.replies[2]!.body.error).toBe('Certificate revoked or verification failed');
  });

  it('a fail-closed refusal while the CRL server is down recovers on the same connection', async () => {
    const x = await crlSetup();
    x.fail();
    const r = await rawRequests(x.port, x.opts, [{}, {}, {}], 10_000, async (n) => {
      if (n === 1) await x.serveCrl([]);
      if (n === 2) x.advance(TTL + 1000);
    });
    expect(r.error).toBeUndefined();
    expect(r.replies.map((y) => y.status)).toEqual([401, 401, 200]);
    expect(r.replies[0]!.body.error).toBe('Certificate revoked or verification failed');
    expect(r.replies[2]!.body).toMatchObject({ username: 'alice', authenticatedBy: 'mtls' });
  });
});
