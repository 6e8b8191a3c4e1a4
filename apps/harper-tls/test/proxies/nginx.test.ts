import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { curlJson, DOCS, freePort, logLine, makeClients, metric, recipe, startHarperTls, startNginx, tempDir, type Clients, type Peer } from './harness.js';

/**
 * nginx terminating TLS in front of harper-tls's plain HTTP port, with docs/proxies/nginx.conf
 * as the docs show it: every client certificate decision is harper-tls's, and the same as with
 * TLS ending at harper-tls itself.
 */
describe('behind nginx (docs/proxies/nginx.conf, pem-urlencoded)', () => {
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let nginx: Peer;
  let clients: Clients;
  let port: number;
  const tmp = tempDir();

  beforeAll(async () => {
    harper = await startHarperTls((p) => [
      `port: ${p.http}`,
      `securePort: ${p.https}`,
      "trustedProxies: ['127.0.0.1']",
      'mtls:',
      '  required: false',
      '  certificateVerification: true',
      '  forwardedCertificate: { format: pem-urlencoded }',
    ]);
    clients = await makeClients(harper.root);
    port = await freePort();
    nginx = await startNginx(tmp.dir, recipe('nginx.conf', { LISTEN_PORT: port, HARPER_HTTP_PORT: harper.ports.http, SERVER_CERT: clients.serverCert, SERVER_KEY: clients.serverKey, CLIENT_CA: clients.ca }), [port]);
  });
  afterAll(async () => {
    await nginx?.stop();
    await harper?.stop();
    tmp.cleanup();
  });

  const via = (name?: 'alice' | 'bob' | 'carol' | 'expired' | 'foreign', extra: string[] = []) =>
    curlJson(['--cacert', clients.ca, ...(name ? ['--cert', clients.cert(name).cert, '--key', clients.cert(name).key] : []), ...extra, `https://localhost:${port}/whoami`]);
  const direct = (name?: 'alice' | 'bob' | 'carol' | 'expired' | 'foreign') =>
    // From 127.0.0.2: on loopback the client would otherwise share the trusted proxy's address.
    curlJson(['--interface', '127.0.0.2', '--cacert', clients.ca, ...(name ? ['--cert', clients.cert(name).cert, '--key', clients.cert(name).key] : []), `https://localhost:${harper.ports.https}/whoami`]);

  it('good, revoked, expired, foreign-CA and missing certificates: the same answer through nginx as with TLS ending at harper-tls', async () => {
    expect(await via('alice')).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' } });
    expect(await via('bob')).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    expect(await via('expired')).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await via('foreign')).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await via()).toEqual({ status: 401, body: { error: 'Login failed' } });
    for (const name of ['alice', 'bob', 'expired', 'foreign', undefined] as const) expect(await via(name)).toEqual(await direct(name));
    const refusals = harper.log().split('\n').filter((l) => l.includes('"listener":"http"') && l.includes('authentication failed'));
    expect(refusals.some((l) => /expired/.test(l))).toBe(true);
    expect(refusals.some((l) => /does not chain to a trusted CA/.test(l))).toBe(true);
  });

  it('a certificate header sent by the client through nginx is replaced by nginx (no certificate: none forwarded)', async () => {
    const forged = encodeURIComponent(clients.cert('alice').pem);
    expect(await via(undefined, ['-H', `X-SSL-Client-Cert: ${forged}`])).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect((await via('carol', ['-H', `X-SSL-Client-Cert: ${forged}`])).body.username).toBe('carol');
  });

  it('the same header sent directly from 127.0.0.2 (not a trusted proxy) is never believed, and is counted', async () => {
    const before = await metric(harper.ports.ops, /^harper_tls_forwarded_untrusted_total\{listener="http"\}/);
    const forged = encodeURIComponent(clients.cert('alice').pem);
    const r = await curlJson(['--interface', '127.0.0.2', '-H', `X-SSL-Client-Cert: ${forged}`, '-H', 'X-Forwarded-For: 10.9.9.9', `http://127.0.0.1:${harper.ports.http}/whoami`]);
    expect(r).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await metric(harper.ports.ops, /^harper_tls_forwarded_untrusted_total\{listener="http"\}/)).toBe(before + 1);
    const line = await logLine(harper.log, /"listener":"http","remote":"127\.0\.0\.2".*"msg":"authentication failed"/);
    expect(line).toMatchObject({ listener: 'http', remote: '127.0.0.2' }); // not the X-Forwarded-For it sent
  });

  it('the client address in audit lines is the rightmost X-Forwarded-For address that is not a trusted proxy', async () => {
    const r = await via('carol', ['--interface', '127.0.0.2', '-H', 'X-Forwarded-For: 203.0.113.66']);
    expect(r.body.username).toBe('carol');
    const line = await logLine(harper.log, /"audit":"authentication".*"outcome":"success".*"user":"carol".*"remote":"127\.0\.0\.2"/);
    expect(line).toMatchObject({ method: 'mtls', remote: '127.0.0.2', peer: '127.0.0.1', fingerprint256: expect.stringMatching(/^([0-9A-F]{2}:){31}/) });
    expect(harper.log()).not.toMatch(/"remote":"203\.0\.113\.66"/);
  });

  it('a revocation made while nginx keeps its upstream connection open applies to the next request', async () => {
    expect((await via('carol')).status).toBe(200);
    const { runToEnd } = await import('../helpers/run.js');
    expect((await runToEnd(['cert', 'revoke', '--root', harper.root, clients.cert('carol').cert])).code).toBe(0);
    const deadline = Date.now() + 10_000;
    let last = await via('carol');
    while (last.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      last = await via('carol');
    }
    expect(last).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
  });

  it('docs/proxies/README.md shows this very file', () => {
    const doc = readFileSync(join(DOCS, 'README.md'), 'utf8');
    expect(doc).toContain(readFileSync(join(DOCS, 'nginx.conf'), 'utf8').trim());
  });
});
