import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpensslPki } from '../reliability/openssl-pki.js';
import { runToEnd } from '../helpers/run.js';
import { fresh, op, requestsByWorker, spread, startCluster, until, type Cluster } from './cluster.js';

/**
 * SPEC.md section 8 with threads.count 2: every run-time change holds on every worker when the
 * operation answers (or the reload is logged). After each change, 24 fresh connections (full
 * handshakes), spread over both workers (checked with the `worker` label of
 * harper_tls_http_requests_total), must all see the new state.
 */
const N = 24;
let c: Cluster;
let pki: OpensslPki;
let crlServer: http.Server;
let crlDownloads = 0;
const out = (name: string) => join(c.root, 'issued', name);
const tlsOf = (name: string, dir = join(c.root, 'issued')) => ({ cert: readFileSync(join(dir, `${name}.pem`)), key: readFileSync(join(dir, `${name}-key.pem`)) });

beforeAll(async () => {
  // An outside CA for add_certificate, with a CRL server counting downloads (single flight across workers).
  pki = new OpensslPki();
  crlServer = http.createServer((req, res) => {
    crlDownloads++;
    res.writeHead(200, { 'content-type': 'application/pkix-crl' });
    res.end(Buffer.from(pki.der('ext.crl')));
  });
  await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
  const crlUrl = `http://127.0.0.1:${(crlServer.address() as { port: number }).port}/ext.crl`;
  pki.ca('ext');
  pki.issue('dave', 'ext', '0a01', { cdp: crlUrl });
  pki.crl('ext', 'ext.crl');
  c = await startCluster();
  mkdirSync(join(c.root, 'issued'));
  // The local CA issuing while the server runs (another process, like an operator's shell).
  for (const cn of ['alice', 'erin', 'frank']) expect((await runToEnd(['cert', 'issue', '--root', c.root, '--cn', cn, '--out', join(c.root, 'issued')], { HARPER_TLS_PROGRESS: '0' })).code).toBe(0);
  for (const u of ['alice', 'erin', 'dave', 'frank']) expect((await op(c, { operation: 'add_user', username: u, password: `${u}-pw`, role: 'reader' })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await c?.cleanup();
  pki?.cleanup();
  await new Promise((r) => crlServer?.close(r));
});

/** `n` kept-alive connections (one agent), opened together so they land on both workers; `again()` sends one more request on each. */
async function keptAlive(n: number, client: { cert: Buffer; key: Buffer }) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: n, ...client, rejectUnauthorized: false, servername: 'localhost' });
  const one = () =>
    new Promise<{ status: number; body: any; reused: boolean }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: c.ports.https, path: '/whoami', agent }, (res) => {
        let t = '';
        res.on('data', (d) => (t += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(t), reused: req.reusedSocket }));
      });
      req.on('error', reject);
    });
  const before = await requestsByWorker(c, 'https');
  const first = await Promise.all(Array.from({ length: n }, one));
  const after = await requestsByWorker(c, 'https');
  for (const w of ['0', '1']) expect((after[w] ?? 0) - (before[w] ?? 0), `kept-alive connections on worker ${w}`).toBeGreaterThan(0);
  return { first, again: () => Promise.all(Array.from({ length: n }, one)), close: () => agent.destroy() };
}

const whoami = (tls: { cert: Buffer; key: Buffer } | undefined, auth?: string) => (tls ? fresh({ port: c.ports.https, path: '/whoami', tls, auth }) : fresh({ port: c.ports.http, path: '/whoami', auth }));

// Generous: 24 fresh handshakes (and scrypt for each Basic login) per step on 2 cores shared with other test runs.
describe('threads.count 2: one port, every worker, every change everywhere before it answers', { timeout: 180_000 }, () => {
  it('spreads fresh connections over both workers on every listener', async () => {
    const health = await spread(c, 'http', N, () => fresh({ port: c.ports.http, path: '/health' }));
    expect(health.every((r) => r.status === 200)).toBe(true);
    const secure = await spread(c, 'https', N, () => fresh({ port: c.ports.https, path: '/health', tls: {} }));
    expect(secure.every((r) => r.status === 200)).toBe(true);
    const ops = await spread(c, 'operations', N, () => op(c, { operation: 'user_info' }));
    expect(ops.every((r) => r.status === 200)).toBe(true);
  });

  it('add_user, alter_user (password, active) and drop_user', async () => {
    expect((await op(c, { operation: 'add_user', username: 'carol', password: 'pw-1', role: 'reader' })).status).toBe(200);
    let rs = await spread(c, 'http', N, () => whoami(undefined, 'carol:pw-1'));
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(200));

    expect((await op(c, { operation: 'alter_user', username: 'carol', password: 'pw-2' })).status).toBe(200);
    rs = await spread(c, 'http', N, (i) => whoami(undefined, i % 2 ? 'carol:pw-1' : 'carol:pw-2'));
    expect(rs.map((r) => r.status)).toEqual(Array.from({ length: N }, (_, i) => (i % 2 ? 401 : 200)));

    expect((await op(c, { operation: 'alter_user', username: 'carol', active: false })).status).toBe(200);
    rs = await spread(c, 'http', N, () => whoami(undefined, 'carol:pw-2'));
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(401));

    expect((await op(c, { operation: 'alter_user', username: 'carol', active: true })).status).toBe(200);
    rs = await spread(c, 'http', N, () => whoami(undefined, 'carol:pw-2'));
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(200));

    // Open connections too: their cached user lookups (authentication.cacheTTL, 30 s) are dropped on every worker.
    const open = await keptAlive(8, tlsOf('frank'));
    expect(open.first.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect((await op(c, { operation: 'drop_user', username: 'frank' })).status).toBe(200);
    const next = await open.again();
    open.close();
    expect(next.map((r) => [r.reused, r.status])).toEqual(Array(8).fill([true, 401]));

    expect((await op(c, { operation: 'drop_user', username: 'carol' })).status).toBe(200);
    rs = await spread(c, 'http', N, () => whoami(undefined, 'carol:pw-2'));
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(401));
  });

  it('a certificate the local CA issued while the server runs is accepted by every worker', async () => {
    const rs = await spread(c, 'https', N, () => whoami(tlsOf('alice')));
    expect(rs.map((r) => [r.status, r.body.username, r.body.authenticatedBy])).toEqual(Array(N).fill([200, 'alice', 'mtls']));
  });

  it('add_certificate / remove_certificate of a CA; its CRL downloaded once for the node', async () => {
    const dave = { cert: readFileSync(pki.path('dave.crt')), key: readFileSync(pki.path('dave.key')) };
    let rs = await spread(c, 'https', N, () => whoami(dave));
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(401));
    expect(crlDownloads).toBe(0);

    expect((await op(c, { operation: 'add_certificate', name: 'ext-ca', certificate: pki.pem('ext'), is_authority: true })).status).toBe(200);
    rs = await spread(c, 'https', N, () => whoami(dave));
    expect(rs.map((r) => [r.status, r.body.username])).toEqual(Array(N).fill([200, 'dave']));
    // Both workers checked dave's certificate against the CRL; it was downloaded once.
    expect(crlDownloads).toBe(1);

    expect((await op(c, { operation: 'remove_certificate', name: 'ext-ca' })).status).toBe(200);
    rs = await spread(c, 'https', N, () => whoami(dave));
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(401));
  });

  it('revoke_certificate of the local CA', async () => {
    const serial = new X509Certificate(readFileSync(out('erin.pem'))).serialNumber;
    let rs = await spread(c, 'https', N, () => whoami(tlsOf('erin')));
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(200));
    const open = await keptAlive(8, tlsOf('erin'));
    expect(open.first.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect((await op(c, { operation: 'revoke_certificate', serial, reason: 'keyCompromise' })).status).toBe(200);
    // The open connections of that certificate on every worker: their next request is refused.
    const next = await open.again();
    open.close();
    expect(next.map((r) => [r.reused, r.status])).toEqual(Array(8).fill([true, 401]));
    rs = await spread(c, 'https', N, () => whoami(tlsOf('erin')));
    expect(rs.map((r) => [r.status, r.body.error])).toEqual(Array(N).fill([401, 'Certificate revoked or verification failed']));
  });

  it('a replaced certificate file is served by every worker once the reload is logged', async () => {
    const keys = join(c.root, 'keys');
    const before = new X509Certificate(readFileSync(join(keys, 'certificate.pem'))).fingerprint256;
    const reloads = () => c.log().split('\n').filter((l) => l.includes('configured certificate files reloaded on every worker')).length;
    const seen = reloads();
    // A new server certificate from the same CA, written next to the old one and renamed over it.
    pki.write('srv.ext', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
    pki.run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=renewed', '-keyout', 'srv.key', '-out', 'srv.csr');
    pki.run('x509', '-req', '-in', 'srv.csr', '-CA', join(keys, 'ca.pem'), '-CAkey', join(keys, 'ca-privateKey.pem'), '-set_serial', '0x77', '-days', '5', '-extfile', 'srv.ext', '-out', 'srv.crt');
    const combined = join(keys, 'next.pem');
    writeFileSync(combined, readFileSync(pki.path('srv.crt')));
    writeFileSync(join(keys, 'next-key.pem'), readFileSync(pki.path('srv.key')), { mode: 0o600 });
    renameSync(join(keys, 'next-key.pem'), join(keys, 'privateKey.pem'));
    renameSync(combined, join(keys, 'certificate.pem'));
    const after = new X509Certificate(readFileSync(join(keys, 'certificate.pem'))).fingerprint256;
    expect(after).not.toBe(before);
    await until(() => reloads() > seen && c.log().lastIndexOf('reloaded on every worker') > c.log().lastIndexOf('cannot be used'), 'the reload on every worker to be logged');
    const rs = await spread(c, 'https', N, () =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: c.ports.https, servername: 'localhost', rejectUnauthorized: false }, () => {
          const fp = s.getPeerX509Certificate()!.fingerprint256;
          // One request so the connection counts on its worker.
          s.end('GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
          s.on('close', () => resolve(fp));
          s.resume();
        });
        s.once('error', reject);
      }),
    );
    expect(rs).toEqual(Array(N).fill(after));
  });
});
