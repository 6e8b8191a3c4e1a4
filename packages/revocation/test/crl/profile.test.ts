import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, type CertInfo } from '../../src/cert/parse.js';
import { parseCrl, parseCrlAsync } from '../../src/crl/parse.js';
import { checkCertificateWithCrls } from '../../src/crl/evaluate.js';
import { oid as oidValue, seq, tlv } from '../../src/der/writer.js';
import { OpensslPki } from '../helpers/openssl-pki.js';
import { buildCrl, crlPem, value, type CrlSpec, type Entry, type Ext } from '../helpers/crl-builder.js';

/**
 * The CRL profile of RFC 5280 sections 5.2 and 5.3 (src/crl/profile.ts), case by case on CRLs
 * built byte by byte and signed by the CA, each also judged by `openssl verify -crl_check`.
 * `openssl` is what OpenSSL 3.0 says: `OK`, or the verify error it reports. Where it says OK to a
 * CRL we refuse (duplicates, a v1 CRL with extensions), the difference is deliberate (README).
 */
const pki = new OpensslPki();
let ca: CertInfo, ee: CertInfo, key: string;
const now = Date.now();
const UNHANDLED = 'unhandled critical CRL extension';

beforeAll(() => {
  pki.ca('ca');
  pki.issue('ee', 'ca', '1234');
  ca = parseCertificate(pki.pem('ca'));
  ee = parseCertificate(pki.pem('ee'));
  key = readFileSync(pki.path('ca.key'), 'utf8');
});
afterAll(() => pki.cleanup());

const aki = (): Ext => ({ oid: '2.5.29.35', value: value.aki(ca.ski!) });
const num: Ext = { oid: '2.5.29.20', value: value.crlNumber(7) };
const unknownOid = '1.3.6.1.4.1.55555.1';
/** An entry for another certificate, with these extensions. */
const other = (...exts: Ext[]): Entry => ({ serial: '7f01', exts });
const certIssuer = (): Ext => ({ oid: '2.5.29.29', critical: true, value: seq(tlv(0xa4, Buffer.from(ca.subjectDer))) });
const invalidity = (): Ext => ({ oid: '2.5.29.24', value: value.invalidityDate(new Date(now - 7200e3)) });

// [case, the CRL, our verdict: 'usable' or what the refusal says, what openssl verify says]
const cases: Array<[string, () => Partial<CrlSpec>, 'usable' | RegExp, string]> = [
  ['v2 with authorityKeyIdentifier and cRLNumber', () => ({ exts: [aki(), num] }), 'usable', 'OK'],
  ['critical authorityKeyIdentifier (5.2.1 sets no criticality)', () => ({ exts: [{ ...aki(), critical: true }, num] }), 'usable', 'OK'],
  ['non-critical issuerAltName', () => ({ exts: [aki(), num, { oid: '2.5.29.18', value: value.ian('ca.example') }] }), 'usable', 'OK'],
  ['non-critical unknown CRL extension', () => ({ exts: [aki(), num, { oid: unknownOid, value: value.utf8('x') }] }), 'usable', 'OK'],
  ['non-critical freshestCRL', () => ({ exts: [aki(), num, { oid: '2.5.29.46', value: value.freshest('http://127.0.0.1/delta.crl') }] }), 'usable', 'OK'],
  ['non-critical unknown entry extension', () => ({ exts: [aki(), num], entries: [other({ oid: unknownOid, value: value.utf8('x') })] }), 'usable', 'OK'],
  ['entry with reasonCode and invalidityDate', () => ({ exts: [aki(), num], entries: [other({ oid: '2.5.29.21', value: value.reason(1) }, invalidity())] }), 'usable', 'OK'],
  ['v1 CRL without extensions', () => ({ v1: true, entries: [{ serial: '7f01' }] }), 'usable', 'OK'],
  ['critical cRLNumber (5.2.3: MUST be non-critical)', () => ({ exts: [aki(), { ...num, critical: true }] }), /marks cRLNumber \(2\.5\.29\.20\) critical, but RFC 5280 section 5\.2\.3/, UNHANDLED],
  ['critical freshestCRL (5.2.6)', () => ({ exts: [aki(), num, { oid: '2.5.29.46', critical: true, value: value.freshest('http://127.0.0.1/delta.crl') }] }), /marks freshestCRL .* section 5\.2\.6/, UNHANDLED],
  ['critical authorityInfoAccess (5.2.7)', () => ({ exts: [aki(), num, { oid: '1.3.6.1.5.5.7.1.1', critical: true, value: value.aiaCaIssuers('http://127.0.0.1/ca.crt') }] }), /marks authorityInfoAccess .* section 5\.2\.7/, UNHANDLED],
  ['critical issuerAltName (5.2.2: SHOULD be non-critical; not processed)', () => ({ exts: [aki(), num, { oid: '2.5.29.18', critical: true, value: value.ian('ca.example') }] }), /marks issuerAltName/, UNHANDLED],
  ['unknown critical CRL extension', () => ({ exts: [aki(), num, { oid: unknownOid, critical: true, value: value.utf8('x') }] }), /unknown critical extension 1\.3\.6\.1\.4\.1\.55555\.1/, UNHANDLED],
  ['unknown critical entry extension (on another certificate\'s entry)', () => ({ exts: [aki(), num], entries: [other({ oid: unknownOid, critical: true, value: value.utf8('x') })] }), /the entry for serial 7f01 has an unknown critical extension/, UNHANDLED],
  ['critical reasonCode entry extension (5.3.1)', () => ({ exts: [aki(), num], entries: [other({ oid: '2.5.29.21', critical: true, value: value.reason(1) })] }), /entry for serial 7f01 marks reasonCode .* section 5\.3\.1/, UNHANDLED],
  ['critical invalidityDate entry extension (5.3.2)', () => ({ exts: [aki(), num], entries: [other({ ...invalidity(), critical: true })] }), /marks invalidityDate .* section 5\.3\.2/, UNHANDLED],
  ['critical holdInstructionCode entry extension (RFC 3280 5.3.2)', () => ({ exts: [aki(), num], entries: [other({ oid: '2.5.29.23', critical: true, value: oidValue('1.2.840.10040.2.1') })] }), /marks holdInstructionCode/, UNHANDLED],
  ['cRLNumber twice', () => ({ exts: [aki(), num, num] }), /has CRL extension 2\.5\.29\.20 twice/, 'OK'],
  ['authorityKeyIdentifier twice', () => ({ exts: [aki(), num, aki()] }), /has CRL extension 2\.5\.29\.35 twice/, 'OK'],
  ['an unknown non-critical CRL extension twice', () => ({ exts: [aki(), num, { oid: unknownOid, value: value.utf8('x') }, { oid: unknownOid, value: value.utf8('y') }] }), /twice/, 'OK'],
  ['reasonCode twice in one entry', () => ({ exts: [aki(), num], entries: [other({ oid: '2.5.29.21', value: value.reason(1) }, { oid: '2.5.29.21', value: value.reason(4) })] }), /entry for serial 7f01 has entry extension 2\.5\.29\.21 twice/, 'OK'],
  ['invalidityDate twice in one entry', () => ({ exts: [aki(), num], entries: [other(invalidity(), invalidity())] }), /entry extension 2\.5\.29\.24 twice/, 'OK'],
  ['certificateIssuer twice in one entry', () => ({ exts: [aki(), num], entries: [other(certIssuer(), certIssuer())] }), /entry extension 2\.5\.29\.29 twice/, 'OK'],
  ['v1 CRL with CRL extensions', () => ({ v1: true, exts: [aki(), num] }), /v1 CRL .* with CRL extensions; RFC 5280 section 5\.1\.2\.1/, 'OK'],
  ['v1 CRL with entry extensions', () => ({ v1: true, entries: [other({ oid: '2.5.29.21', value: value.reason(1) })] }), /v1 CRL .* entry for serial 7f01 has extensions/, 'OK'],
];

function build(spec: Partial<CrlSpec>): Buffer {
  return buildCrl({ issuer: ca.subjectDer, thisUpdate: new Date(now - 3600e3), nextUpdate: new Date(now + 86400e3), ...spec }, key);
}

function opensslVerify(name: string, der: Uint8Array): string {
  const file = `${name.replace(/\W+/g, '-')}.pem`;
  writeFileSync(pki.path(file), crlPem(der));
  const r = spawnSync('openssl', ['verify', '-crl_check', '-CAfile', 'ca.crt', '-CRLfile', file, 'ee.crt'], { cwd: pki.dir, encoding: 'utf8' });
  if (r.status === 0 && /: OK$/m.test(r.stdout)) return 'OK';
  return /error \d+ at \d+ depth lookup: (.*)/.exec(r.stdout + r.stderr)?.[1] ?? `openssl failed: ${r.stdout}${r.stderr}`;
}

const check = (crl: ReturnType<typeof parseCrl>, cert = ee) => checkCertificateWithCrls({ cert, issuer: ca, crls: [crl], at: new Date(now), gracePeriodMs: 0, candidateSigners: [], anchors: [ca] });

describe('CRL profile (RFC 5280 sections 5.2, 5.3) vs openssl verify -crl_check', () => {
  it.each(cases)('%s', async (name, spec, ours, openssl) => {
    const der = build(spec());
    expect(opensslVerify(name, der)).toBe(openssl);
    const crl = parseCrl(der);
    // The sliced parser finds the same problem.
    expect((await parseCrlAsync(der)).profileError?.message).toBe(crl.profileError?.message);
    const r = check(crl);
    if (ours === 'usable') {
      expect(crl.profileError).toBeUndefined();
      expect(r).toMatchObject({ status: 'good' });
      return;
    }
    expect(crl.profileError).toMatchObject({ code: 'ERR_REVOCATION_CRL_PROFILE', name: expect.any(String) });
    expect(crl.profileError!.message).toMatch(ours);
    // Refused like a CRL with a bad signature: unknown, and never acceptable in any failure mode.
    expect(r).toMatchObject({ status: 'unknown', invalid: true });
    if (r.status === 'unknown') expect(r.errors.join('; ')).toMatch(/ERR_REVOCATION_CRL_PROFILE/);
  });

  it('a CRL that lists the certificate but breaks the profile is not "revoked" either: unknown, invalid', () => {
    const der = build({ exts: [aki(), { ...num, critical: true }], entries: [{ serial: '1234', exts: [{ oid: '2.5.29.21', value: value.reason(1) }] }] });
    expect(opensslVerify('listed-critical-number', der)).toBe(UNHANDLED);
    expect(check(parseCrl(der))).toMatchObject({ status: 'unknown', invalid: true });
  });

  it('a profile problem on a delta CRL: the delta is not used, the complete CRL still decides', () => {
    const base = build({ exts: [aki(), num] });
    const delta = build({ exts: [aki(), { oid: '2.5.29.20', value: value.crlNumber(8) }, { oid: '2.5.29.27', critical: true, value: value.crlNumber(7) }, { oid: unknownOid, critical: true, value: value.utf8('x') }], entries: [{ serial: '1234' }] });
    const d = parseCrl(delta);
    expect(d.profileError?.code).toBe('ERR_REVOCATION_CRL_PROFILE');
    const r = checkCertificateWithCrls({ cert: ee, issuer: ca, crls: [parseCrl(base), d], at: new Date(now), gracePeriodMs: 0, candidateSigners: [], anchors: [ca] });
    expect(r.status).toBe('good');
  });

  it('a delta CRL without a cRLNumber cannot be ordered after its base (5.2.4): not used', () => {
    const delta = parseCrl(build({ exts: [aki(), { oid: '2.5.29.27', critical: true, value: value.crlNumber(7) }], entries: [{ serial: '1234' }] }));
    expect(delta.profileError?.message).toMatch(/delta CRL without a cRLNumber/);
    const r = checkCertificateWithCrls({ cert: ee, issuer: ca, crls: [parseCrl(build({ exts: [aki(), num] })), delta], at: new Date(now), gracePeriodMs: 0, candidateSigners: [], anchors: [ca] });
    expect(r.status).toBe('good');
  });

  it('openssl ca -gencrl output (v2, AKI, cRLNumber, reasonCode entries) is usable', () => {
    pki.revoke('ee', 'ca');
    const crl = parseCrl(pki.crl('ca'));
    expect(crl.profileError).toBeUndefined();
    expect(check(crl)).toMatchObject({ status: 'revoked', reason: 'keyCompromise' });
  });
});
