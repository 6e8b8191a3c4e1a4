import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateProfileProblem, parseCertificate, type CertInfo } from '../../src/cert/parse.js';
import { parseCrl } from '../../src/crl/parse.js';
import { checkCertificateWithCrls } from '../../src/crl/evaluate.js';
import { certIdFor } from '../../src/ocsp/request.js';
import { verifyOcspResponse } from '../../src/ocsp/response.js';
import { oid, seq, tlv } from '../../src/der/writer.js';
import { OpensslPki } from '../helpers/openssl-pki.js';
import { buildCert, buildCrl, certPem, cnName, value, type Ext } from '../helpers/crl-builder.js';

/**
 * Certificate extensions (RFC 5280 section 4.2) that must make a certificate unusable: a critical
 * extension not handled (unknown, or one the RFC requires non-critical and OpenSSL refuses as
 * critical) and an extension twice; compared with `openssl verify` on the same certificates.
 * Where it matters here: separate CRL signers and delegated OCSP responders, which no TLS stack
 * validated before the checker sees them.
 */
const pki = new OpensslPki();
let ca: CertInfo, caKey: string;
const now = Date.now();
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
const ee = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(() => {
  pki.ca('ca');
  ca = parseCertificate(pki.pem('ca'));
  caKey = readFileSync(pki.path('ca.key'), 'utf8');
});
afterAll(() => pki.cleanup());

const bc: Ext = { oid: '2.5.29.19', critical: true, value: seq() };
/** keyUsage digitalSignature (bit 0) / cRLSign (bit 6) */
const kuSign: Ext = { oid: '2.5.29.15', critical: true, value: tlv(0x03, Buffer.from([0x07, 0x80])) };
const kuCrl: Ext = { oid: '2.5.29.15', critical: true, value: tlv(0x03, Buffer.from([0x01, 0x02])) };
const aki = (): Ext => ({ oid: '2.5.29.35', value: value.aki(ca.ski!) });
const ski: Ext = { oid: '2.5.29.14', value: tlv(0x04, Buffer.alloc(20, 1)) };
const unknown = (critical: boolean, v = 'x'): Ext => ({ oid: '1.3.6.1.4.1.55555.1', critical, value: value.utf8(v) });

function cert(exts: Ext[], opts: { subject?: Uint8Array; key?: KeyObject; serial?: string } = {}): Buffer {
  return buildCert({ serial: opts.serial ?? '1234', issuer: ca.subjectDer, subject: opts.subject ?? cnName('ee'), spki: spki(opts.key ?? ee.publicKey), notBefore: new Date(now - 3600e3), notAfter: new Date(now + 86400e3), exts }, caKey);
}

function opensslVerify(name: string, der: Uint8Array): string {
  writeFileSync(pki.path(`${name}.crt`), certPem(der));
  const r = spawnSync('openssl', ['verify', '-CAfile', 'ca.crt', `${name}.crt`], { cwd: pki.dir, encoding: 'utf8' });
  if (r.status === 0) return 'OK';
  return /error \d+ at \d+ depth lookup: (.*)/.exec(r.stdout + r.stderr)?.[1] ?? 'failed';
}

// [case, extensions, refused by us, what openssl verify says]
const cases: Array<[string, () => Ext[], boolean, string]> = [
  ['basicConstraints, keyUsage critical; AKI, SKI not', () => [bc, kuSign, aki(), ski], false, 'OK'],
  ['critical cRLDistributionPoints', () => [bc, kuSign, aki(), { oid: '2.5.29.31', critical: true, value: value.freshest('http://127.0.0.1/ca.crl') }], false, 'OK'],
  ['critical id-pkix-ocsp-nocheck', () => [bc, kuSign, aki(), { oid: '1.3.6.1.5.5.7.48.1.5', critical: true, value: Buffer.from([5, 0]) }], false, 'OK'],
  ['non-critical unknown extension', () => [bc, kuSign, aki(), unknown(false)], false, 'OK'],
  ['critical authorityKeyIdentifier (4.2.1.1: MUST be non-critical)', () => [bc, kuSign, { ...aki(), critical: true }], true, 'unhandled critical extension'],
  ['critical subjectKeyIdentifier (4.2.1.2)', () => [bc, kuSign, aki(), { ...ski, critical: true }], true, 'unhandled critical extension'],
  ['critical authorityInfoAccess (4.2.2.1)', () => [bc, kuSign, aki(), { oid: '1.3.6.1.5.5.7.1.1', critical: true, value: seq(seq(oid('1.3.6.1.5.5.7.48.1'), tlv(0x86, Buffer.from('http://127.0.0.1/')))) }], true, 'unhandled critical extension'],
  ['critical issuerAltName (4.2.1.7)', () => [bc, kuSign, aki(), { oid: '2.5.29.18', critical: true, value: value.ian('ca.example') }], true, 'unhandled critical extension'],
  ['critical freshestCRL (4.2.1.15)', () => [bc, kuSign, aki(), { oid: '2.5.29.46', critical: true, value: value.freshest('http://127.0.0.1/d.crl') }], true, 'unhandled critical extension'],
  ['critical extension with the OID of id-ad-ocsp (an access method, not an extension)', () => [bc, kuSign, aki(), { oid: '1.3.6.1.5.5.7.48.1', critical: true, value: Buffer.from([5, 0]) }], true, 'unhandled critical extension'],
  ['unknown critical extension', () => [bc, kuSign, aki(), unknown(true)], true, 'unhandled critical extension'],
  ['keyUsage twice', () => [bc, kuSign, kuSign, aki()], true, 'unable to get local issuer certificate'],
  ['authorityKeyIdentifier twice', () => [bc, kuSign, aki(), aki()], true, 'unable to get local issuer certificate'],
  ['an unknown non-critical extension twice (OpenSSL 3.0 accepts it)', () => [bc, kuSign, aki(), unknown(false), unknown(false, 'y')], true, 'OK'],
];

describe('certificate extensions (RFC 5280 section 4.2) vs openssl verify', () => {
  it.each(cases)('%s', (name, exts, refused, openssl) => {
    const der = cert(exts());
    expect(opensslVerify(name.replace(/\W+/g, '-'), der)).toBe(openssl);
    const problem = certificateProfileProblem(parseCertificate(certPem(der)));
    if (refused) expect(problem).toMatch(/unhandled critical extensions|more than once/);
    else expect(problem).toBeUndefined();
  });
});

describe('where the checker relies on certificates no TLS stack validated', () => {
  it('a separate CRL signer (same name as the CA, its own key) with an unknown critical extension signs no usable CRL', () => {
    const signerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = parseCertificate(certPem(cert([kuSign, aki()], { serial: '4321' })));
    const crl = parseCrl(buildCrl({ issuer: ca.subjectDer, thisUpdate: new Date(now - 3600e3), nextUpdate: new Date(now + 86400e3), exts: [{ oid: '2.5.29.20', value: value.crlNumber(1) }] }, signerKey.privateKey));
    const signer = (exts: Ext[]) => parseCertificate(certPem(cert(exts, { subject: ca.subjectDer, key: signerKey.publicKey, serial: '5151' })));
    const run = (s: CertInfo) => checkCertificateWithCrls({ cert: leaf, issuer: ca, crls: [crl], at: new Date(now), gracePeriodMs: 0, candidateSigners: [s], anchors: [ca] });
    expect(run(signer([kuCrl, aki()]))).toMatchObject({ status: 'good' });
    const r = run(signer([kuCrl, aki(), unknown(true)]));
    expect(r).toMatchObject({ status: 'unknown', invalid: true });
    if (r.status === 'unknown') expect(r.errors.join(' ')).toMatch(/CRL signer .*unhandled critical extensions 1\.3\.6\.1\.4\.1\.55555\.1/);
  });

  it('a delegated OCSP responder certificate with an unknown critical extension: the answer is invalid (openssl ocsp agrees)', () => {
    pki.issue('leaf', 'ca', '6001');
    pki.record('leaf', 'ca');
    const responderKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(pki.path('resp.key'), responderKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const eku: Ext = { oid: '2.5.29.37', value: seq(oid('1.3.6.1.5.5.7.3.9')) };
    const leaf = parseCertificate(pki.pem('leaf'));
    const answer = (exts: Ext[], name: string) => {
      writeFileSync(pki.path(`${name}.crt`), certPem(cert(exts, { subject: cnName(name), key: responderKey.publicKey, serial: name === 'resp-ok' ? '7001' : '7002' })));
      pki.run('ocsp', '-issuer', 'ca.crt', '-cert', 'leaf.crt', '-no_nonce', '-reqout', `${name}.req`);
      pki.run('ocsp', '-index', 'ca.idx', '-CA', 'ca.crt', '-rsigner', `${name}.crt`, '-rkey', 'resp.key', '-reqin', `${name}.req`, '-respout', `${name}.resp`, '-ndays', '1');
      const v = spawnSync('openssl', ['ocsp', '-respin', `${name}.resp`, '-CAfile', 'ca.crt', '-issuer', 'ca.crt', '-cert', 'leaf.crt'], { cwd: pki.dir, encoding: 'utf8' });
      let ours: string;
      try {
        ours = verifyOcspResponse(pki.der(`${name}.resp`), { certId: certIdFor(leaf, ca, 'sha1'), issuer: ca, at: new Date() }).status;
      } catch (err) {
        ours = `${(err as { kind?: string }).kind}: ${(err as Error).message}`;
      }
      return { openssl: v.status === 0 && /Response verify OK/.test(v.stderr + v.stdout), ours };
    };
    expect(answer([kuSign, aki(), eku], 'resp-ok')).toEqual({ openssl: true, ours: 'good' });
    const bad = answer([kuSign, aki(), eku, unknown(true)], 'resp-bad');
    expect(bad.openssl).toBe(false);
    expect(bad.ours).toMatch(/^invalid: the OCSP responder certificate .*unhandled critical extensions/);
  });
});
