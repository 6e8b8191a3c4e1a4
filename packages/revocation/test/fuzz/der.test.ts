import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarperTlsError } from '@harper-tls/config';
import { certIdFor, parseCertificate, parseCrl, parseOcspResponse, verifyOcspResponse } from '../../src/index.js';
import { OpensslPki } from './openssl-pki.js';
import { FUZZ_RUNS, fuzz, report } from './mutate.js';

/**
 * Mutation fuzzing of the DER readers, seeded from openssl-made certificates, CRLs and OCSP
 * responses plus the PKITS fixtures. Default 10k inputs per target; FUZZ_RUNS=100000 for the full run
 * (`pnpm --filter @harper-tls/revocation fuzz`).
 */
const RUNS = FUZZ_RUNS(10_000);
const typed = (err: unknown): string | undefined => (err instanceof HarperTlsError && typeof err.code === 'string' && err.code.length > 0 ? err.code : undefined);
const pkits = join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/pkits');

describe(`DER readers under ${RUNS} mutated inputs each`, () => {
  const pki = new OpensslPki();
  const certs: Uint8Array[] = [];
  const crls: Uint8Array[] = [];
  const ocsp: Uint8Array[] = [];
  let ctx: Parameters<typeof verifyOcspResponse>[1];

  beforeAll(() => {
    pki.ca('root');
    pki.issue('alice', 'root', '1001', { cdp: 'http://127.0.0.1:1/root.crl', ocsp: 'http://127.0.0.1:1/ocsp' });
    pki.issue('bob', 'root', '1002', { cdp: 'http://127.0.0.1:1/root.crl' });
    pki.issue('responder', 'root', '1003', { ocspSigning: true });
    pki.record('alice', 'root');
    pki.revoke('bob', 'root');
    // An RSA certificate too (different key and signature encodings).
    pki.run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=rsa/O=fuzz', '-keyout', 'rsa.key', '-out', 'rsa.crt', '-days', '3', '-addext', 'subjectAltName=DNS:a.example,IP:127.0.0.1,email:x@y.z,URI:urn:x');
    for (const n of ['root', 'alice', 'bob', 'responder', 'rsa']) {
      pki.run('x509', '-in', `${n}.crt`, '-outform', 'DER', '-out', `${n}.der`);
      certs.push(pki.der(`${n}.der`));
    }
    crls.push(pki.crl('root'));
    // OCSP: good (alice), revoked (bob), with and without nonce, signed by the CA and by a delegated responder.
    for (const [who, signer, nonce] of [['alice', 'root', true], ['bob', 'root', false], ['alice', 'responder', false], ['bob', 'responder', true]] as const) {
      const req = `${who}-${signer}.req`;
      pki.run('ocsp', '-issuer', 'root.crt', '-cert', `${who}.crt`, '-reqout', req, ...(nonce ? [] : ['-no_nonce']));
      const resp = `${who}-${signer}.resp`;
      pki.run('ocsp', '-index', 'root.idx', '-CA', 'root.crt', '-rsigner', `${signer}.crt`, '-rkey', `${signer}.key`, '-reqin', req, '-respout', resp, '-ndays', '1');
      ocsp.push(pki.der(resp));
    }
    for (const f of readdirSync(join(pkits, 'certs')).sort().slice(0, 40)) certs.push(new Uint8Array(readFileSync(join(pkits, 'certs', f))));
    for (const f of readdirSync(join(pkits, 'crls')).sort().slice(0, 20)) crls.push(new Uint8Array(readFileSync(join(pkits, 'crls', f))));
    const root = parseCertificate(certs[0]!);
    ctx = { certId: certIdFor(parseCertificate(certs[1]!), root), issuer: root, at: new Date() };
  }, 60_000);
  afterAll(() => pki.cleanup());

  it('the seeds parse', () => {
    for (const c of certs) expect(parseCertificate(c).serial.length).toBeGreaterThan(0);
    for (const c of crls) expect(() => parseCrl(c)).not.toThrow();
    for (const o of ocsp) expect(() => parseOcspResponse(o)).not.toThrow();
    expect(verifyOcspResponse(ocsp[0]!, ctx).status).toBe('good');
  });

  const targets: Array<[string, () => Uint8Array[], (b: Uint8Array) => unknown]> = [
    ['parseCertificate', () => certs, (b) => parseCertificate(b)],
    ['parseCrl', () => crls, (b) => parseCrl(b)],
    ['parseOcspResponse', () => ocsp, (b) => parseOcspResponse(b)],
    ['verifyOcspResponse', () => ocsp, (b) => verifyOcspResponse(b, ctx)],
  ];
  it.each(targets)('%s: no crash, no hang over 1 s, only typed errors', (name, seeds, fn) => {
    const s = fuzz(name, seeds(), RUNS, fn, typed);
    console.log(report(s));
    expect(s.failures).toEqual([]);
    expect(s.inputs).toBe(RUNS);
    expect(s.rejected).toBeGreaterThan(0);
  }, 600_000);
});
