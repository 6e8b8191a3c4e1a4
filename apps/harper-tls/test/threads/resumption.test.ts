import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, issueCertificate } from '@harper-tls/cert-gen';
import { runToEnd } from '../helpers/run.js';
import { fresh, op, spread, startCluster, type Cluster } from './cluster.js';

/**
 * Session resumption across workers (SPEC.md section 8): every worker has the same ticket keys,
 * so a session from one resumes on the other, and a resumed session is authenticated again:
 * revocation and the user record are checked on whichever worker it lands.
 */
const N = 12;
let c: Cluster;
const dir = () => join(c.root, 'issued');
const tlsOf = (name: string) => ({ cert: readFileSync(join(dir(), `${name}.pem`)), key: readFileSync(join(dir(), `${name}-key.pem`)) });

beforeAll(async () => {
  c = await startCluster();
  mkdirSync(dir());
  for (const cn of ['gina', 'hank']) {
    expect((await runToEnd(['cert', 'issue', '--root', c.root, '--cn', cn, '--out', dir()], { HARPER_TLS_PROGRESS: '0' })).code).toBe(0);
    expect((await op(c, { operation: 'add_user', username: cn, password: `${cn}-pw`, role: 'reader' })).status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await c?.cleanup();
});

/** A session (TLS ticket) from one full handshake. */
async function sessionOf(name: string): Promise<Buffer> {
  const r = await fresh({ port: c.ports.https, path: '/whoami', tls: tlsOf(name) });
  expect(r.status).toBe(200);
  expect(r.session, 'the server sent a session ticket').toBeDefined();
  return r.session!;
}

const resumed = (name: string, session: Buffer) => fresh({ port: c.ports.https, path: '/whoami', tls: tlsOf(name), session });

describe('session resumption with threads.count 2', { timeout: 120_000 }, () => {
  it('a session from one worker resumes on every worker (shared ticket keys)', async () => {
    const session = await sessionOf('gina');
    const rs = await spread(c, 'https', N, () => resumed('gina', session));
    expect(rs.map((r) => [r.reused, r.status, r.body.username])).toEqual(Array(N).fill([true, 200, 'gina']));
  });

  it('a ticket from before a run-time certificate change still resumes on every worker (the shared keys survive setSecureContext)', async () => {
    const session = await sessionOf('gina');
    const ca = await createCA({ commonName: 'Resumption Extra CA' });
    const extra = await issueCertificate({ ca, kind: 'server', commonName: 'extra.test', sans: ['DNS:extra.test'] });
    expect((await op(c, { operation: 'add_certificate', name: 'extra', certificate: extra.certificatePem, private_key: extra.privateKeyPem })).status).toBe(200);
    const rs = await spread(c, 'https', N, () => resumed('gina', session));
    expect(rs.map((r) => [r.reused, r.status, r.body.username])).toEqual(Array(N).fill([true, 200, 'gina']));
    expect((await op(c, { operation: 'remove_certificate', name: 'extra' })).status).toBe(200);
  });

  it('a resumed session never skips revocation: after revoke_certificate every worker refuses it', async () => {
    const session = await sessionOf('gina');
    const serial = new X509Certificate(readFileSync(join(dir(), 'gina.pem'))).serialNumber;
    expect((await op(c, { operation: 'revoke_certificate', serial })).status).toBe(200);
    const rs = await spread(c, 'https', N, () => resumed('gina', session));
    expect(rs.map((r) => [r.reused, r.status, r.body.error])).toEqual(Array(N).fill([true, 401, 'Certificate revoked or verification failed']));
  });

  it('a resumed session never skips the user check: after drop_user every worker refuses it', async () => {
    const session = await sessionOf('hank');
    let rs = await spread(c, 'https', N, () => resumed('hank', session));
    expect(rs.map((r) => [r.reused, r.status])).toEqual(Array(N).fill([true, 200]));
    expect((await op(c, { operation: 'drop_user', username: 'hank' })).status).toBe(200);
    rs = await spread(c, 'https', N, () => resumed('hank', session));
    expect(rs.map((r) => [r.reused, r.status, r.body.error])).toEqual(Array(N).fill([true, 401, 'Login failed']));
  });
});
