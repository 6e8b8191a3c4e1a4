import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import type { HarperInstance } from '@harper-tls/server';
import { exec, tempRoot } from './helpers/run.js';
import { startWithYaml, type Ports } from './helpers/server-harness.js';

/** `tls` as an array: each SNI name gets its certificate (exact, wildcard), no SNI gets the first entry. */
describe('server: SNI with tls as an array, checked with openssl s_client', () => {
  const { root, cleanup } = tempRoot();
  let instance: HarperInstance;
  let ports: Ports;
  const certs: Record<string, KeyAndCert> = {};

  beforeAll(async () => {
    const ca = await createCA({ commonName: 'SNI Test CA', days: 30 });
    certs.default = await issueCertificate({ ca, kind: 'server', commonName: 'default-cert', sans: ['DNS:localhost'], days: 30 });
    certs.exact = await issueCertificate({ ca, kind: 'server', commonName: 'exact-cert', sans: ['DNS:api.example.test'], days: 30 });
    certs.wild = await issueCertificate({ ca, kind: 'server', commonName: 'wildcard-cert', sans: ['DNS:*.apps.example.test'], days: 30 });
    certs.hosted = await issueCertificate({ ca, kind: 'server', commonName: 'hosted-cert', sans: ['DNS:unrelated.test'], days: 30 });
    for (const [n, c] of Object.entries(certs)) {
      writeFileSync(join(root, `${n}.pem`), c.certificatePem);
      writeFileSync(join(root, `${n}-key.pem`), c.privateKeyPem);
    }
    writeFileSync(join(root, 'ca.pem'), ca.certificatePem);
    const entry = (n: string, host?: string[]) => [
      `  - certificate: ${join(root, `${n}.pem`)}`,
      `    privateKey: ${join(root, `${n}-key.pem`)}`,
      `    certificateAuthority: ${join(root, 'ca.pem')}`,
      ...(host ? [`    host: ${JSON.stringify(host)}`] : []),
    ];
    ({ instance, ports } = await startWithYaml(join(root, 'hdb'), (p) => [
      'http:',
      '  port: null',
      `  securePort: ${p.https}`,
      'tls:',
      ...entry('default'),
      ...entry('exact'),
      ...entry('wild'),
      // `host` overrides the certificate's SANs as the SNI names of the entry.
      ...entry('hosted', ['hosted.example.test']),
      'operationsApi:',
      '  network:',
      `    port: ${p.ops}`,
    ]));
  });
  afterAll(async () => {
    await instance?.close();
    cleanup();
  });

  /** The subject CN openssl s_client sees for `servername` (none: no SNI extension at all). */
  async function servedCn(servername: string | undefined): Promise<string> {
    const args = ['s_client', '-connect', `127.0.0.1:${ports.https}`, '-brief', ...(servername ? ['-servername', servername] : ['-noservername'])];
    const out = await exec('sh', ['-c', `openssl ${args.join(' ')} </dev/null 2>&1 | head -40; true`]);
    const m = /Peer certificate: .*CN\s*=\s*([\w-]+)/.exec(out) ?? /subject=.*CN\s*=\s*([\w-]+)/.exec(out);
    if (!m) throw new Error(`no peer certificate in: ${out}`);
    return m[1]!;
  }

  it.each([
    ['api.example.test', 'exact-cert'],
    ['API.Example.Test', 'exact-cert'],
    ['one.apps.example.test', 'wildcard-cert'],
    ['two.apps.example.test', 'wildcard-cert'],
    ['deep.one.apps.example.test', 'default-cert'],
    ['apps.example.test', 'default-cert'],
    ['hosted.example.test', 'hosted-cert'],
    ['unrelated.test', 'default-cert'],
    ['localhost', 'default-cert'],
    ['nothing.test', 'default-cert'],
  ])('-servername %s gets %s', async (name, cn) => {
    expect(await servedCn(name)).toBe(cn);
  });

  it('no SNI gets the default (first) entry', async () => {
    expect(await servedCn(undefined)).toBe('default-cert');
  });
});
