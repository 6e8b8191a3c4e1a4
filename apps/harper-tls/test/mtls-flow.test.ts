import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, exec, freePort, run, runToEnd, tempRoot, type Run } from './helpers/run.js';

async function curlJson(args: string[]): Promise<{ status: number; body: any }> {
  const r = await curl(args);
  let body: unknown = r.body;
  try {
    body = JSON.parse(r.body);
  } catch {}
  return { status: r.status, body };
}

/**
 * The whole client-certificate story through the CLI and a running server: issue from the
 * local CA, authenticate by CN, revoke, and be refused at once (the server reads its own CA's
 * records); the published CRL (or OCSP answer) says the same to check-revocation.
 */
describe.each([
  ['crl', { crl: { cacheTtl: 1000 }, ocsp: false }],
  ['ocsp', { crl: false, ocsp: { cacheTtl: 1000 } }],
])('mTLS with the local CA, revocation published by %s', (method, verification) => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { http: number; https: number; ops: number };
  const out = join(root, 'issued');
  const admin = ['-u', 'admin:pw-for-tests'];

  beforeAll(async () => {
    ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
    writeFileSync(
      join(root, 'harperdb-config.yaml'),
      [
        'http:',
        `  port: ${ports.http}`,
        `  securePort: ${ports.https}`,
        '  mtls:',
        '    required: false',
        `    certificateVerification: ${JSON.stringify({ failureMode: 'fail-closed', ...verification })}`,
        'operationsApi:',
        '  network:',
        `    port: ${ports.ops}`,
        'logging:',
        '  level: warn',
        '',
      ].join('\n'),
    );
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    await server.waitFor('operations ');
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  const ca = () => join(root, 'keys', 'ca.pem');
  const asAlice = () => ['--cacert', ca(), '--cert', join(out, 'alice.pem'), '--key', join(out, 'alice-key.pem'), `https://localhost:${ports.https}/whoami`];

  it('issues a client certificate with the CRL and OCSP URLs of the running server', async () => {
    const r = await runToEnd(['cert', 'issue', '--root', root, '--cn', 'alice', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(statSync(join(out, 'alice-key.pem')).mode & 0o777).toBe(0o600);
    const text = await exec('openssl', ['x509', '-in', join(out, 'alice.pem'), '-noout', '-text']);
    expect(text).toContain(`http://localhost:${ports.http}/ca/crl`);
    expect(text).toContain(`http://localhost:${ports.http}/ca/ocsp`);
    expect(text).toContain('TLS Web Client Authentication');
    expect(await exec('openssl', ['verify', '-CAfile', ca(), join(out, 'alice.pem')])).toMatch(/OK/);
  });

  it('a trusted certificate of an unknown user gets 401 Login failed', async () => {
    expect(await curlJson(asAlice())).toEqual({ status: 401, body: { error: 'Login failed' } });
  });

  it('authenticates as the CN once the user exists', async () => {
    const add = await curlJson([...admin, '-H', 'content-type: application/json', '-d', JSON.stringify({ operation: 'add_user', username: 'alice', password: 'alice-pw', role: 'reader', active: true }), `http://127.0.0.1:${ports.ops}/`]);
    expect(add.status).toBe(200);
    expect(await curlJson(asAlice())).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' } });
  });

  it('without a certificate, Basic auth still works (mTLS not required)', async () => {
    expect((await curlJson(['--cacert', ca(), '-u', 'alice:alice-pw', `https://localhost:${ports.https}/whoami`])).body).toEqual({ username: 'alice', role: 'reader', authenticatedBy: 'basic' });
  });

  it('lists, revokes and then refuses the certificate', async () => {
    const list = await runToEnd(['cert', 'list', '--root', root, '--json']);
    expect(list.code).toBe(0);
    const entries = JSON.parse(list.stdout) as Array<{ cn: string; status: string; serialHex: string }>;
    expect(entries).toEqual([expect.objectContaining({ cn: 'alice', status: 'good' })]);

    const revoke = await runToEnd(['cert', 'revoke', '--root', root, join(out, 'alice.pem'), '--reason', 'keyCompromise']);
    expect(revoke.stderr).toBe('');
    expect(revoke.code).toBe(0);
    const after = JSON.parse((await runToEnd(['cert', 'list', '--root', root, '--json'])).stdout) as Array<{ status: string }>;
    expect(after[0]!.status).toBe('revoked');

    // The local CA's records are authoritative: no wait for a cached CRL or OCSP answer to expire.
    expect(await curlJson(asAlice())).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
  });

  it('publishes a CRL that openssl verifies and that lists the serial', async () => {
    const crlFile = join(root, 'ca.crl');
    const r = await runToEnd(['crl', '--root', root, '--out', crlFile]);
    expect(r.code).toBe(0);
    const text = await exec('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', ca(), '-noout', '-text']);
    const serial = new X509Certificate(readFileSync(join(out, 'alice.pem'))).serialNumber;
    expect(text.toUpperCase()).toContain(serial.toUpperCase());
    expect(text).toContain('Key Compromise');
  });

  it(`check-revocation agrees (${method})`, async () => {
    const r = await runToEnd(['check-revocation', '--cert', join(out, 'alice.pem'), '--chain', ca()]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('revoked');
  });
});
