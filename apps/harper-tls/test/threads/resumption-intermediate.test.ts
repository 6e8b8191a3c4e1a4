import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import { fresh, op, spread, startCluster, type Cluster } from './cluster.js';

/**
 * A client certificate issued by an intermediate, with only the root in tls.certificateAuthority,
 * and threads.count 2: OpenSSL keeps only the leaf in a resumed session, so a session resumed on
 * the worker that did not do the full handshake has no intermediate to chain through unless the
 * first worker shared the one it verified (workers/share.ts `sharedIntermediates`).
 */
const N = 12;
let c: Cluster;
let inter: KeyAndCert;
let ivy: KeyAndCert;

beforeAll(async () => {
  const root = await createCA({ commonName: 'Resumption Test Root' });
  inter = await createCA({ commonName: 'Resumption Test Issuing CA', issuer: root, pathLength: 0 });
  const server = await issueCertificate({ ca: root, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
  ivy = await issueCertificate({ ca: inter, kind: 'client', commonName: 'ivy' });
  c = await startCluster({
    yaml: (ports, dir) => {
      writeFileSync(join(dir, 'root.pem'), root.certificatePem);
      writeFileSync(join(dir, 'server.pem'), server.certificatePem);
      writeFileSync(join(dir, 'server-key.pem'), server.privateKeyPem);
      return [
        'http:',
        `  port: ${ports.http}`,
        `  securePort: ${ports.https}`,
        '  mtls:',
        '    required: false',
        '    certificateVerification: false',
        'operationsApi:',
        '  network:',
        `    port: ${ports.ops}`,
        'tls:',
        `  certificate: ${join(dir, 'server.pem')}`,
        `  privateKey: ${join(dir, 'server-key.pem')}`,
        `  certificateAuthority: ${join(dir, 'root.pem')}`,
      ];
    },
  });
  expect((await op(c, { operation: 'add_user', username: 'ivy', password: 'ivy-pw', role: 'reader' })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await c?.cleanup();
});

describe('session resumption through an intermediate CA with threads.count 2', { timeout: 120_000 }, () => {
  it('a session from one worker resumes on every worker, though only the first saw the intermediate', async () => {
    const tls = { cert: ivy.certificatePem + inter.certificatePem, key: ivy.privateKeyPem };
    const first = await fresh({ port: c.ports.https, path: '/whoami', tls });
    expect([first.status, first.body.username]).toEqual([200, 'ivy']);
    expect(first.session, 'the server sent a session ticket').toBeDefined();
    const rs = await spread(c, 'https', N, () => fresh({ port: c.ports.https, path: '/whoami', tls, session: first.session }));
    expect(rs.map((r) => [r.reused, r.status, r.body.username ?? r.body.error])).toEqual(Array(N).fill([true, 200, 'ivy']));
  });
});
