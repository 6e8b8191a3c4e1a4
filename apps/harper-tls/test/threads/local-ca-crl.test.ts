import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd } from '../helpers/run.js';
import { fresh, op, spread, startCluster, type Cluster } from './cluster.js';

/**
 * SPEC.md section 8 with threads.count 2: the local CA's CRL (`/ca/crl`) is one CRL per revision
 * for the node: fresh connections spread over both workers get the same bytes, and its CRL
 * number only grows (RFC 5280 section 5.2.3), never a CRL per worker numbered alike or going back.
 */
const N = 16;
let c: Cluster;

beforeAll(async () => {
  c = await startCluster();
  mkdirSync(join(c.root, 'issued'));
  for (const cn of ['alice', 'bob']) expect((await runToEnd(['cert', 'issue', '--root', c.root, '--cn', cn, '--out', join(c.root, 'issued')], { HARPER_TLS_PROGRESS: '0' })).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await c?.cleanup();
});

const crlPem = async () => {
  const r = await fresh({ port: c.ports.http, path: '/ca/crl.pem' });
  expect(r.status).toBe(200);
  return String(r.body);
};
const crlNumber = (pem: string) => BigInt(execFileSync('openssl', ['crl', '-noout', '-crlnumber'], { input: pem }).toString().trim().replace(/^crlNumber=(0x)?/, '0x'));
const serialOf = (cn: string) => new X509Certificate(readFileSync(join(c.root, 'issued', `${cn}.pem`))).serialNumber;

describe('threads.count 2: the local CA serves one CRL per revision, its number increasing', { timeout: 120_000 }, () => {
  it('every worker serves the same bytes; each revocation a higher CRL number', async () => {
    const numbers: bigint[] = [];
    for (const revoke of [undefined, 'alice', 'bob']) {
      if (revoke) expect((await op(c, { operation: 'revoke_certificate', serial: serialOf(revoke), reason: 'keyCompromise' })).status).toBe(200);
      const pems = await spread(c, 'http', N, () => crlPem());
      expect(new Set(pems).size, `distinct CRLs served after ${revoke ?? 'start'}`).toBe(1);
      numbers.push(crlNumber(pems[0]!));
    }
    expect(numbers[1]! > numbers[0]! && numbers[2]! > numbers[1]!, `CRL numbers ${numbers.join(', ')}`).toBe(true);
  });
});
