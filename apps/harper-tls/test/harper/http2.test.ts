import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tlsProbe } from '../helpers/tls-probe.js';
import { exec, freePort, run, runToEnd, tempRoot, type Run } from '../helpers/run.js';

/** curl with the HTTP version it ended up speaking. */
async function curlVersion(args: string[]): Promise<{ status: number; version: string; body: string }> {
  const out = await exec('curl', ['-s', '-S', '--max-time', '10', '-w', '\n%{http_code} %{http_version}', ...args]);
  const i = out.lastIndexOf('\n');
  const [status, version] = out.slice(i + 1).split(' ');
  return { status: Number(status), version: version!, body: out.slice(0, i) };
}

describe.each([
  ['http.http2: true', true],
  ['http.http2 absent (default false)', false],
])('%s', (_name, on) => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { http: number; https: number; ops: number };
  const out = join(root, 'issued');
  const ca = () => join(root, 'keys', 'ca.pem');
  const asAdmin = () => ['--http2', '--cacert', ca(), '--cert', join(out, 'admin.pem'), '--key', join(out, 'admin-key.pem'), `https://localhost:${ports.https}/whoami`];

  beforeAll(async () => {
    ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
    writeFileSync(
      join(root, 'harperdb-config.yaml'),
      [
        'http:',
        `  port: ${ports.http}`,
        `  securePort: ${ports.https}`,
        ...(on ? ['  http2: true'] : []),
        '  mtls:',
        '    required: false',
        '    certificateVerification: {failureMode: fail-closed, crl: {cacheTtl: 1000}, ocsp: false}',
        'operationsApi:',
        '  network:',
        `    port: ${ports.ops}`,
        'logging: {level: warn}',
        '',
      ].join('\n'),
    );
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    await server.waitFor('operations ');
    expect((await runToEnd(['cert', 'issue', '--root', root, '--cn', 'admin', '--out', out])).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it(on ? 'curl --http2 speaks HTTP/2, and mTLS authenticates the CN' : 'curl --http2 gets HTTP/1.1 (ALPN offers only http/1.1), and mTLS works as before', async () => {
    const r = await curlVersion(asAdmin());
    expect(r.version).toBe(on ? '2' : '1.1');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ username: 'admin', role: 'super_user', authenticatedBy: 'mtls' });
    expect((await tlsProbe(ports.https, { ca: readFileSync(ca()), ALPNProtocols: ['h2', 'http/1.1'] })).alpnProtocol).toBe(on ? 'h2' : 'http/1.1');
  });

  it('a revoked certificate is then refused over the same protocol (revocation as on HTTP/1.1)', async () => {
    const revoke = await runToEnd(['cert', 'revoke', '--root', root, join(out, 'admin.pem'), '--reason', 'keyCompromise']);
    expect(revoke.code).toBe(0);
    const deadline = Date.now() + 5000;
    let r = await curlVersion(asAdmin());
    while (r.status !== 401 && Date.now() < deadline) r = await curlVersion(asAdmin());
    expect(r).toMatchObject({ status: 401, version: on ? '2' : '1.1' });
    expect(JSON.parse(r.body)).toEqual({ error: 'Certificate revoked or verification failed' });
  });
});
