import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createCA, createCrl, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import type { HarperInstance } from '@harper-tls/server';
import { freePort, tempRoot } from './helpers/run.js';
import { operation, startWithYaml, type Ports } from './helpers/server-harness.js';

type Reply = { status: number; body: any; alpn?: string };

/** HTTP/1.1 request with an optional client certificate (a fresh connection each time). */
function request1(port: number, path: string, opts: { ca: string; client?: KeyAndCert; method?: string; body?: unknown; auth?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path,
        method: opts.method ?? (data ? 'POST' : 'GET'),
        ca: opts.ca,
        ...(opts.client ? { cert: opts.client.certificatePem, key: opts.client.privateKeyPem } : {}),
        agent: false,
        ALPNProtocols: ['http/1.1'],
        headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...(opts.auth ? { authorization: `Basic ${Buffer.from(opts.auth).toString('base64')}` } : {}) },
      } as https.RequestOptions,
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, body, alpn: (res.socket as tls.TLSSocket).alpnProtocol || undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** HTTP/2 request over its own session. */
function request2(port: number, path: string, opts: { ca: string; client?: KeyAndCert; body?: unknown }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, { host: '127.0.0.1', ca: opts.ca, ...(opts.client ? { cert: opts.client.certificatePem, key: opts.client.privateKeyPem } : {}) });
    session.on('error', reject);
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const stream = session.request({ ':path': path, ':method': data ? 'POST' : 'GET', ...(data ? { 'content-type': 'application/json' } : {}) });
    let status = 0;
    let text = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c) => (text += c));
    stream.on('end', () => {
      const alpn = session.alpnProtocol;
      session.close();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      resolve({ status, body, alpn });
    });
    stream.on('error', reject);
    stream.end(data);
  });
}

/** The value of one Prometheus sample whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('server: Operations API with its own certificate and CA, HTTP/2, /metrics', () => {
  const { root, cleanup } = tempRoot();
  let instance: HarperInstance;
  let ports: Ports;
  let appCa: KeyAndCert;
  let opsCa: KeyAndCert;
  const c: Record<string, KeyAndCert> = {};
  let crlServer: Server;
  let crlDownloads = 0;
  const crlThisUpdate = new Date(Date.now() - 3_600_000);
  const crlNextUpdate = new Date(Date.now() + 2 * 86_400_000);

  beforeAll(async () => {
    const crlPort = await freePort();
    const crlUrl = `http://127.0.0.1:${crlPort}/app.crl`;
    appCa = await createCA({ commonName: 'App CA', days: 30 });
    opsCa = await createCA({ commonName: 'Ops CA', days: 60 });
    c.appServer = await issueCertificate({ ca: appCa, kind: 'server', commonName: 'app-server', sans: ['DNS:localhost', 'IP:127.0.0.1'], days: 30 });
    c.opsServer = await issueCertificate({ ca: opsCa, kind: 'server', commonName: 'ops-server', sans: ['DNS:localhost', 'IP:127.0.0.1'], days: 45 });
    c.aliceApp = await issueCertificate({ ca: appCa, kind: 'client', commonName: 'alice', days: 10, crlUrl });
    c.malloryApp = await issueCertificate({ ca: appCa, kind: 'client', commonName: 'alice', days: 10, crlUrl });
    c.aliceOps = await issueCertificate({ ca: opsCa, kind: 'client', commonName: 'alice', days: 10 });
    const crl = await createCrl({ ca: appCa, revoked: [{ serialHex: c.malloryApp.serialHex, revokedAt: new Date(Date.now() - 60_000) }], crlNumber: 1, thisUpdate: crlThisUpdate, nextUpdate: crlNextUpdate });
    crlServer = createServer((req, res) => {
      crlDownloads++;
      res.writeHead(200, { 'content-type': 'application/pkix-crl' });
      res.end(Buffer.from(crl));
    });
    await new Promise<void>((r) => crlServer.listen(crlPort, '127.0.0.1', r));
    for (const [n, k] of Object.entries(c)) {
      writeFileSync(join(root, `${n}.pem`), k.certificatePem);
      writeFileSync(join(root, `${n}-key.pem`), k.privateKeyPem);
    }
    writeFileSync(join(root, 'appCa.pem'), appCa.certificatePem);
    writeFileSync(join(root, 'opsCa.pem'), opsCa.certificatePem);
    ({ instance, ports } = await startWithYaml(join(root, 'hdb'), (p) => [
      'http:',
      '  port: null',
      `  securePort: ${p.https}`,
      '  http2: true',
      '  mtls:',
      '    required: false',
      `    certificateVerification: ${JSON.stringify({ failureMode: 'fail-closed', crl: { cacheTtl: 600000 }, ocsp: false })}`,
      'tls:',
      `  certificate: ${join(root, 'appServer.pem')}`,
      `  privateKey: ${join(root, 'appServer-key.pem')}`,
      `  certificateAuthority: ${join(root, 'appCa.pem')}`,
      'operationsApi:',
      '  network:',
      `    port: ${p.ops}`,
      `    securePort: ${p.opsSecure}`,
      '    mtls:',
      '      required: false',
      '  tls:',
      `    certificate: ${join(root, 'opsServer.pem')}`,
      `    privateKey: ${join(root, 'opsServer-key.pem')}`,
      `    certificateAuthority: ${join(root, 'opsCa.pem')}`,
    ]));
    const add = await operation(ports.ops, { operation: 'add_user', username: 'alice', password: 'alice-pw', role: 'reader', active: true });
    expect(add.status).toBe(200);
  });
  afterAll(async () => {
    await instance?.close();
    await new Promise((r) => crlServer?.close(r));
    cleanup();
  });

  const userInfo = { operation: 'user_info' };

  it('each listener serves its own certificate', async () => {
    const app = await request1(ports.https, '/health', { ca: appCa.certificatePem });
    expect(app.status).toBe(200);
    const ops = await request1(ports.opsSecure, '/health', { ca: opsCa.certificatePem });
    expect(ops.status).toBe(200);
    await expect(request1(ports.opsSecure, '/health', { ca: appCa.certificatePem })).rejects.toThrow();
  });

  it('a client certificate of the application CA authenticates on the application server only', async () => {
    expect(await request1(ports.https, '/whoami', { ca: appCa.certificatePem, client: c.aliceApp })).toMatchObject({ status: 200, body: { username: 'alice', authenticatedBy: 'mtls' } });
    expect(await request1(ports.opsSecure, '/', { ca: opsCa.certificatePem, client: c.aliceApp, body: userInfo })).toMatchObject({ status: 401, body: { error: 'Login failed' } });
  });

  it('a client certificate of the Operations API CA authenticates on the Operations API only', async () => {
    const ok = await request1(ports.opsSecure, '/', { ca: opsCa.certificatePem, client: c.aliceOps, body: userInfo });
    expect(ok.status).toBe(200);
    expect(ok.body.username).toBe('alice');
    expect(await request1(ports.https, '/whoami', { ca: appCa.certificatePem, client: c.aliceOps })).toMatchObject({ status: 401, body: { error: 'Login failed' } });
  });

  it('a revoked application client certificate gets 401 (CRL)', async () => {
    expect(await request1(ports.https, '/whoami', { ca: appCa.certificatePem, client: c.malloryApp })).toMatchObject({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
  });

  it.each(['TLSv1.3', 'TLSv1.2'] as const)('a %s session of one listener resumes there but never on the other', async (version) => {
    const connect = (port: number, ca: string, session?: Buffer) =>
      new Promise<{ reused: boolean; session: Buffer }>((resolve, reject) => {
        let got: Buffer | undefined;
        const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, maxVersion: version, minVersion: version, ...(session ? { session } : {}) }, () => {
          const reused = s.isSessionReused();
          // TLS 1.3 tickets arrive after the handshake.
          const done = () => (s.end(), resolve({ reused, session: got ?? s.getSession()! }));
          if (version === 'TLSv1.2' || got || session) done();
          else s.once('session', () => setImmediate(done));
        });
        s.on('session', (b) => (got = b));
        s.on('data', () => undefined);
        s.on('error', reject);
      });
    const first = await connect(ports.https, appCa.certificatePem);
    expect(first.reused).toBe(false);
    expect((await connect(ports.https, appCa.certificatePem, first.session)).reused).toBe(true);
    const other = await connect(ports.opsSecure, opsCa.certificatePem, first.session);
    expect(other.reused).toBe(false);
  });

  it('with http.http2 the application HTTPS port speaks HTTP/2 (ALPN h2) and HTTP/1.1; mTLS and /health work over h2; the Operations API stays HTTP/1.1', async () => {
    expect(await request2(ports.https, '/health', { ca: appCa.certificatePem })).toEqual({ status: 200, body: { status: 'ok' }, alpn: 'h2' });
    expect(await request2(ports.https, '/whoami', { ca: appCa.certificatePem, client: c.aliceApp })).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' }, alpn: 'h2' });
    expect(await request2(ports.https, '/whoami', { ca: appCa.certificatePem })).toMatchObject({ status: 401, alpn: 'h2' });
    await expect(request2(ports.opsSecure, '/', { ca: opsCa.certificatePem, client: c.aliceOps, body: userInfo })).rejects.toThrow();
    const ops = await request1(ports.opsSecure, '/', { ca: opsCa.certificatePem, client: c.aliceOps, body: userInfo });
    expect(ops).toMatchObject({ status: 200, alpn: 'http/1.1', body: { username: 'alice' } });
    expect((await request1(ports.https, '/health', { ca: appCa.certificatePem })).alpn).toBe('http/1.1');
  });

  it('GET /metrics needs a super_user: 401 without credentials, 403 for another role', async () => {
    const none = await fetch(`http://127.0.0.1:${ports.ops}/metrics`);
    expect(none.status).toBe(401);
    const reader = await fetch(`http://127.0.0.1:${ports.ops}/metrics`, { headers: { authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}` } });
    expect(reader.status).toBe(403);
    expect((await request1(ports.https, '/metrics', { ca: appCa.certificatePem, auth: 'admin:admin-pw' })).status).toBe(404);
  });

  it('GET /metrics values: failed Basic logins, mTLS outcomes, handshakes, revocation cache and fetches, CRL freshness, expiry days', async () => {
    const scrape = async () => {
      const r = await fetch(`http://127.0.0.1:${ports.ops}/metrics`, { headers: { authorization: `Basic ${Buffer.from('admin:admin-pw').toString('base64')}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return r.text();
    };
    const before = await scrape();
    const failedBasic = sample(before, 'harper_tls_authentications_total', { listener: 'https', method: 'basic', outcome: 'failed' }) ?? 0;
    for (let i = 0; i < 3; i++) expect((await request1(ports.https, '/whoami', { ca: appCa.certificatePem, auth: 'alice:wrong' })).status).toBe(401);
    await request1(ports.https, '/whoami', { ca: appCa.certificatePem, client: c.aliceApp });
    const text = await scrape();

    expect(failedBasic).toBe(0);
    expect(sample(text, 'harper_tls_authentications_total', { listener: 'https', method: 'basic', outcome: 'failed', reason: 'bad_credentials' })).toBe(3);
    // /whoami with the app certificate: first test, h2 test, and just now.
    expect(sample(text, 'harper_tls_authentications_total', { listener: 'https', method: 'mtls', outcome: 'ok' })).toBe(3);
    expect(sample(text, 'harper_tls_authentications_total', { listener: 'https', method: 'mtls', outcome: 'failed', reason: 'certificate_revoked_or_unverified' })).toBe(1);
    // A certificate of the other API's CA: an mTLS attempt that fails as untrusted, on both sides.
    expect(sample(text, 'harper_tls_authentications_total', { listener: 'https', method: 'mtls', outcome: 'failed', reason: 'untrusted_certificate' })).toBe(1);
    expect(sample(text, 'harper_tls_authentications_total', { listener: 'operations-secure', method: 'mtls', outcome: 'failed', reason: 'untrusted_certificate' })).toBe(1);
    expect(sample(text, 'harper_tls_authentications_total', { listener: 'https', method: 'none', outcome: 'failed', reason: 'no_credentials' })).toBe(1);
    expect(sample(text, 'harper_tls_handshakes_total', { listener: 'https', outcome: 'ok', client_certificate: 'yes' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'harper_tls_handshakes_total', { listener: 'operations-secure', outcome: 'failed' })).toBe(1);

    // One CRL download (a miss), then answers from the cache.
    expect(crlDownloads).toBe(1);
    expect(sample(text, 'harper_tls_revocation_fetch_seconds_count', { kind: 'crl', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'harper_tls_revocation_checks_total', { method: 'crl', status: 'good', cache: 'miss' })).toBe(1);
    expect(sample(text, 'harper_tls_revocation_checks_total', { method: 'crl', status: 'good', cache: 'hit' })).toBe(2);
    expect(sample(text, 'harper_tls_revocation_checks_total', { method: 'crl', status: 'revoked', cache: 'hit' })).toBe(1);
    const crlUrl = 'http://127.0.0.1:';
    expect(Math.abs(sample(text, 'harper_tls_crl_age_seconds', {})! - (Date.now() - crlThisUpdate.getTime()) / 1000)).toBeLessThan(60);
    expect(Math.abs(sample(text, 'harper_tls_crl_next_update_seconds', {})! - (crlNextUpdate.getTime() - Date.now()) / 1000)).toBeLessThan(60);
    expect(text).toContain(`harper_tls_crl_age_seconds{url="${crlUrl}`);

    const days = (pem: string) => (new Date(new X509Certificate(pem).validTo).getTime() - Date.now()) / 86_400_000;
    const served = sample(text, 'harper_tls_certificate_expiry_days', { name: 'tls', use: 'https', kind: 'served' })!;
    expect(Math.abs(served - days(c.appServer!.certificatePem))).toBeLessThanOrEqual(1);
    expect(Math.abs(served - 30)).toBeLessThanOrEqual(1);
    const opsServed = sample(text, 'harper_tls_certificate_expiry_days', { name: 'operationsApi.tls', use: 'operations-api', kind: 'served' })!;
    expect(Math.abs(opsServed - 45)).toBeLessThanOrEqual(1);
    expect(Math.abs(sample(text, 'harper_tls_certificate_expiry_days', { use: 'https', kind: 'trusted' })! - days(appCa.certificatePem))).toBeLessThanOrEqual(1);
    expect(Math.abs(sample(text, 'harper_tls_certificate_expiry_days', { use: 'operations-api', kind: 'trusted' })! - 60)).toBeLessThanOrEqual(1);
  });
});
