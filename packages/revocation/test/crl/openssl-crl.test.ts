import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, type CertInfo } from '../../src/cert/parse.js';
import { parseCrl } from '../../src/crl/parse.js';
import { checkCertificateWithCrls } from '../../src/crl/evaluate.js';

let dir: string;
let ca: CertInfo, ee: CertInfo, other: CertInfo;
let goodPem: string, revokedDer: Uint8Array, otherDer: Uint8Array;
const DAY = 86_400_000;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rev-crl-openssl-'));
  const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  for (const n of ['ca', 'other']) {
    writeFileSync(join(dir, `${n}.idx`), '');
    writeFileSync(join(dir, `${n}.num`), '01\n');
    writeFileSync(join(dir, `${n}.cnf`), `[ca]\ndefault_ca=c\n[c]\ndatabase=${n}.idx\ncrlnumber=${n}.num\ndefault_md=sha256\ndefault_crl_days=7\ncertificate=${n}.crt\nprivate_key=${n}.key\n`);
    o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${n} CA`, '-keyout', `${n}.key`, '-out', `${n}.crt`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  o('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client', '-keyout', 'ee.key', '-out', 'ee.csr');
  o('x509', '-req', '-in', 'ee.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x1234', '-days', '20', '-out', 'ee.crt');
  o('ca', '-config', 'ca.cnf', '-gencrl', '-out', 'good.pem');
  o('ca', '-config', 'ca.cnf', '-revoke', 'ee.crt', '-crl_reason', 'keyCompromise');
  o('ca', '-config', 'ca.cnf', '-gencrl', '-out', 'revoked.pem');
  o('crl', '-in', 'revoked.pem', '-outform', 'DER', '-out', 'revoked.der');
  o('ca', '-config', 'other.cnf', '-gencrl', '-out', 'other.pem');
  o('crl', '-in', 'other.pem', '-outform', 'DER', '-out', 'other.der');
  const r = (f: string) => readFileSync(join(dir, f));
  ca = parseCertificate(r('ca.crt').toString());
  other = parseCertificate(r('other.crt').toString());
  ee = parseCertificate(r('ee.crt').toString());
  goodPem = r('good.pem').toString();
  revokedDer = new Uint8Array(r('revoked.der'));
  otherDer = new Uint8Array(r('other.der'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const check = (crlBytes: Uint8Array, at = new Date(), gracePeriodMs = 0) =>
  checkCertificateWithCrls({ cert: ee, issuer: ca, crls: [parseCrl(crlBytes)], at, gracePeriodMs, candidateSigners: [ca, other], anchors: [ca, other] });

describe('checkCertificateWithCrls on openssl ca -gencrl output', () => {
  it('good CRL in PEM → good', () => {
    expect(check(new TextEncoder().encode(goodPem)).status).toBe('good');
  });
  it('revoked with -crl_reason keyCompromise (DER) → revoked with the reason', () => {
    const r = check(revokedDer);
    expect(r.status).toBe('revoked');
    if (r.status === 'revoked') expect(r.reason).toBe('keyCompromise');
  });
  it('nextUpdate passed: unknown beyond grace, still decisive within grace', () => {
    const crl = parseCrl(revokedDer);
    const after = new Date(crl.nextUpdate!.getTime() + DAY);
    expect(check(revokedDer, after, 0).status).toBe('unknown');
    expect(check(revokedDer, after, 2 * DAY).status).toBe('revoked');
  });
  it('CRL from another issuer is not in scope → unknown', () => {
    expect(check(otherDer).status).toBe('unknown');
  });
  it('flipped signature byte → unknown, never good or revoked', () => {
    const bad = revokedDer.slice();
    bad[bad.length - 5]! ^= 0x01;
    expect(check(bad).status).toBe('unknown');
  });
});
