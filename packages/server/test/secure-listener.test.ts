import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import https from 'node:https';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createCA, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import { HarperServer, type AuthOutcome } from '../src/server.js';
import { TlsContextSet } from '../src/tls/context-set.js';
import { buildEntry } from '../src/tls/material.js';
import { ServerMetrics, authReasonCategory } from '../src/metrics.js';
import { metricsRoute } from '../src/routes/local-ca.js';
import { memoryLogger } from './helpers/logger.js';

describe('secure listener: HTTP/2 + HTTP/1.1 by ALPN, graceful close', () => {
  const { logger } = memoryLogger('warn');
  let ca: KeyAndCert;
  let server: HarperServer;
  let port: number;
  const authenticate = async (): Promise<AuthOutcome> => ({ ok: true, user: { username: 'root', role: 'super_user' }, method: 'basic' });

  beforeAll(async () => {
    ca = await createCA({ commonName: 'Listener CA', days: 10 });
    const leaf = await issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost'], days: 10 });
    const contexts = new TlsContextSet({ entries: [buildEntry({ certPem: leaf.certificatePem, keyPem: leaf.privateKeyPem, name: 'tls' })], defaultIndex: 0 }, 'https');
    server = new HarperServer({ logger, host: '127.0.0.1', closeGraceMs: 3000, listeners: [{ name: 'https', api: 'app', port: 0, tls: { contexts, mtls: false }, authenticate, http2: true }], operations: [] });
    const [info] = await server.listen();
    port = info!.port;
    expect(info).toEqual({ name: 'https', port, address: '127.0.0.1', url: `https://127.0.0.1:${port}/` });
  });
  afterAll(() => server.close());

  it('answers /health over h2 and over HTTP/1.1 on the same port', async () => {
    const session = http2.connect(`https://localhost:${port}`, { ca: ca.certificatePem, host: '127.0.0.1' });
    const body = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': '/health' });
      let t = '';
      s.on('data', (c) => (t += c)).on('end', () => resolve(t)).on('error', reject);
    });
    expect(body).toBe('{"status":"ok"}');
    expect(session.alpnProtocol).toBe('h2');
    session.close();
    const h1 = await new Promise<{ alpn: string | false | null; body: string }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', servername: 'localhost', port, path: '/health', ca: ca.certificatePem, agent: false, ALPNProtocols: ['http/1.1'] } as https.RequestOptions, (res) => {
          let t = '';
          res.on('data', (c) => (t += c)).on('end', () => resolve({ alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol, body: t }));
        })
        .on('error', reject);
    });
    expect(h1).toEqual({ alpn: 'http/1.1', body: '{"status":"ok"}' });
  });

  it('close() ends idle HTTP/2 sessions and keep-alive HTTP/1.1 sockets without waiting for the grace period', async () => {
    const session = http2.connect(`https://localhost:${port}`, { ca: ca.certificatePem, host: '127.0.0.1' });
    await new Promise<void>((resolve) => session.request({ ':path': '/health' }).on('data', () => undefined).on('end', () => resolve()));
    const agent = new https.Agent({ keepAlive: true });
    await new Promise<void>((resolve) => https.get({ host: '127.0.0.1', servername: 'localhost', port, path: '/health', ca: ca.certificatePem, agent }, (res) => res.resume().on('end', () => resolve())));
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).toBeLessThan(1500);
    agent.destroy();
    session.destroy();
  });
});

describe('ServerMetrics and /metrics', () => {
  it('computes expiry days at scrape time with the injected clock', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const ca = await createCA({ commonName: 'Clock CA', days: 100, now: () => new Date('2026-01-01T00:00:00Z') });
    const metrics = new ServerMetrics({ now: () => now });
    metrics.watchCertificates(() => [{ name: 'ca', use: 'https', kind: 'trusted', cert: new X509Certificate(ca.certificatePem) }]);
    metrics.recordCrl('http://crl.test/a.crl', { thisUpdate: new Date('2025-12-31T23:00:00Z'), nextUpdate: new Date('2026-01-02T00:00:00Z') });
    const read = async (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec((await metrics.render()).body)![1]);
    expect(await read('harper_tls_certificate_expiry_days')).toBe(100);
    expect(await read('harper_tls_crl_age_seconds')).toBe(3600);
    expect(await read('harper_tls_crl_next_update_seconds')).toBe(86400);
    now = new Date('2026-01-11T00:00:00Z');
    expect(await read('harper_tls_certificate_expiry_days')).toBe(90);
    expect(await read('harper_tls_crl_next_update_seconds')).toBe(-9 * 86400);
  });

  it('maps free-text authentication reasons to fixed categories', () => {
    expect(authReasonCategory('wrong password, unknown or inactive user')).toBe('bad_credentials');
    expect(authReasonCategory('invalid or expired token')).toBe('bad_token');
    expect(authReasonCategory('token user inactive')).toBe('token_user_unknown_or_inactive');
    expect(authReasonCategory('certificate user unknown')).toBe('certificate_user_unknown_or_inactive');
    expect(authReasonCategory('revocation status revoked')).toBe('certificate_revoked_or_unverified');
    expect(authReasonCategory('no credentials')).toBe('no_credentials');
    expect(authReasonCategory('basic credentials are not base64')).toBe('malformed_credentials');
    expect(authReasonCategory('the certificate subject has no single readable CN')).toBe('certificate_names_no_user');
    expect(authReasonCategory('certificate signed by an unknown CA: CN=Evil')).toBe('untrusted_certificate');
  });

  it('/metrics: 401 and 403 unless super_user, open when requireAuthentication is false', async () => {
    const metrics = new ServerMetrics();
    const fake = () => {
      const res = { status: 0, body: '', writeHead(s: number) { this.status = s; return this; }, end(b?: string) { this.body = b ?? ''; }, headersSent: false, setHeader() {} };
      return res;
    };
    const url = new URL('http://x/metrics');
    const req = { method: 'GET', headers: {} } as never;
    const ctx = (auth: AuthOutcome) => ({ listener: 'operations' as const, authenticate: async () => auth });
    const route = metricsRoute(() => metrics.render());
    const r1 = fake();
    await route(req, r1 as never, url, ctx({ ok: false, status: 401, error: 'Login failed' }));
    expect(r1.status).toBe(401);
    const r2 = fake();
    await route(req, r2 as never, url, ctx({ ok: true, user: { username: 'r', role: 'reader' }, method: 'basic' }));
    expect(r2.status).toBe(403);
    const r3 = fake();
    await route(req, r3 as never, url, ctx({ ok: true, user: { username: 'a', role: 'super_user' }, method: 'mtls' }));
    expect(r3.status).toBe(200);
    expect(r3.body).toContain('# TYPE harper_tls_authentications_total counter');
    const r4 = fake();
    await metricsRoute(() => metrics.render(), { requireAuthentication: false })(req, r4 as never, url, ctx({ ok: false, status: 401, error: 'Login failed' }));
    expect(r4.status).toBe(200);
  });
});

describe('shared session ticket keys (ticketKeys) survive certificate changes', () => {
  /** GET /whoami on a new connection (no agent), resuming `session` when given; else waits for the session the server hands out (bounded). */
  function whoami(port: number, ca: string, servername: string, version: 'TLSv1.2' | 'TLSv1.3', session?: Buffer): Promise<{ status: number; reused: boolean; session?: Buffer }> {
    return new Promise((resolve, reject) => {
      let got: Buffer | undefined;
      let answer: { status: number; reused: boolean } | undefined;
      const timer = setTimeout(() => reject(new Error('no session ticket within 10 s')), 10_000);
      const done = () => {
        if (!answer || (!got && !session)) return;
        clearTimeout(timer);
        resolve({ ...answer, session: got });
      };
      const req = https.request({ host: '127.0.0.1', port, path: '/whoami', servername, ca, agent: false, session, minVersion: version, maxVersion: version } as https.RequestOptions, (res) => {
        const reused = (res.socket as import('node:tls').TLSSocket).isSessionReused();
        res.resume().on('end', () => {
          answer = { status: res.statusCode!, reused };
          done();
        });
      });
      req.on('socket', (s) => s.on('session', (b: Buffer) => ((got = b), done())));
      req.on('error', (e) => (clearTimeout(timer), reject(e)));
      req.end();
    });
  }

  for (const http2 of [false, true]) {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      it(`${http2 ? 'HTTP/2 listener' : 'HTTP/1.1 listener'}, ${version}: after a run-time certificate change getTicketKeys() is still the shared keys and a ticket from before resumes on the other server, authenticated again`, async () => {
        const { logger } = memoryLogger('warn');
        const ca = await createCA({ commonName: 'Ticket CA', days: 10 });
        const leaf = await issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost'], days: 10 });
        const other = await issueCertificate({ ca, kind: 'server', commonName: 'other.test', sans: ['DNS:other.test'], days: 10 });
        const ticketKeys = randomBytes(48);
        const base = () => buildEntry({ certPem: leaf.certificatePem, keyPem: leaf.privateKeyPem, name: 'tls' });
        const checks: boolean[] = [];
        const authenticate = async (req: import('node:http').IncomingMessage): Promise<AuthOutcome> => {
          checks.push((req.socket as import('node:tls').TLSSocket).isSessionReused());
          return { ok: true, user: { username: 'root', role: 'super_user' }, method: 'basic' };
        };
        // Two "workers": the same material, label and keys, each its own contexts.
        const workers = await Promise.all(
          [0, 1].map(async () => {
            const contexts = new TlsContextSet({ entries: [base()], defaultIndex: 0 }, 'https');
            const server = new HarperServer({ logger, host: '127.0.0.1', ticketKeys, listeners: [{ name: 'https', api: 'app', port: 0, tls: { contexts, mtls: false }, authenticate, http2 }], operations: [] });
            const [info] = await server.listen();
            return { contexts, server, port: info!.port };
          }),
        );
        try {
          const [a, b] = workers as [(typeof workers)[0], (typeof workers)[0]];
          const before = await whoami(a.port, ca.certificatePem, 'localhost', version);
          expect(before.status).toBe(200);
          // add_certificate on every worker: a new SNI entry, the contexts rebuilt.
          for (const w of workers) w.contexts.update({ entries: [buildEntry({ certPem: other.certificatePem, keyPem: other.privateKeyPem, name: 'other' }), base()], defaultIndex: 1 });
          for (const w of workers) expect((w.server.server('https') as unknown as import('node:tls').Server).getTicketKeys().equals(ticketKeys)).toBe(true);
          checks.length = 0;
          const resumed = await whoami(b.port, ca.certificatePem, 'localhost', version, before.session!);
          expect([resumed.reused, resumed.status]).toEqual([true, 200]);
          // A ticket for the new SNI entry, made on one worker after the change, resumes on the other.
          const sni = await whoami(b.port, ca.certificatePem, 'other.test', version);
          const sniResumed = await whoami(a.port, ca.certificatePem, 'other.test', version, sni.session!);
          expect([sniResumed.reused, sniResumed.status]).toEqual([true, 200]);
          // Resumed or not, every request went through authentication.
          expect(checks).toEqual([true, false, true]);
        } finally {
          for (const w of workers) await w.server.close();
        }
      });
    }
  }
});
