import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, type CertInfo } from '../../src/cert/parse.js';
import { indexOf, parseCrl, type ParsedCrl } from '../../src/crl/parse.js';
import { encodeStoredCrl, isIndexedLayout, parseStoredCrl, storedCrlDates, storedDer, STORED_LAYOUT_VERSION } from '../../src/crl/stored.js';
import { encodeLegacyStoredCrl } from '../../src/crl/stored.js';
import { seq, tlv } from '../../src/der/writer.js';
import { OpensslPki } from '../helpers/openssl-pki.js';
import { buildCrl, value, type Entry, type Ext } from '../helpers/crl-builder.js';

/**
 * The stored CRL layout (src/crl/stored.ts): a CRL and its serial index in one value, read back
 * without rebuilding the index; any layout mismatch or corruption makes the reader rebuild the
 * index from the DER, so that a revoked serial is never answered "not revoked" because of it.
 */
const pki = new OpensslPki();
let ca: CertInfo, other: CertInfo, key: string;
const now = Date.now();
const thisUpdate = new Date(now - 3600e3);
const nextUpdate = new Date(now + 3600e3);
const N = 3000;
const serialHex = (i: number) => (0x40000000 + i * 7919).toString(16);
const serialBytes = (hex: string) => new Uint8Array(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
let direct: Buffer;
let indirect: Buffer;
let problem: Buffer;

const reason = (code: number): Ext => ({ oid: '2.5.29.21', value: value.reason(code) });
const certIssuer = (name: Uint8Array): Ext => ({ oid: '2.5.29.29', critical: true, value: seq(tlv(0xa4, Buffer.from(name))) });

beforeAll(() => {
  pki.ca('ca');
  pki.ca('other', 'Other CA');
  ca = parseCertificate(pki.pem('ca'));
  other = parseCertificate(pki.pem('other'));
  key = readFileSync(pki.path('ca.key'), 'utf8');
  const entries: Entry[] = [];
  for (let i = 0; i < N; i++) entries.push({ serial: serialHex(i), exts: i % 3 === 0 ? [reason(1)] : undefined });
  direct = buildCrl({ issuer: ca.subjectDer, thisUpdate, nextUpdate, entries, exts: [{ oid: '2.5.29.20', value: value.crlNumber(5) }] }, key);
  // Indirect CRL: the first half of the entries for certificates of the CRL issuer, the rest (from
  // the entry with a certificateIssuer on) for certificates of "Other CA".
  const idp = { oid: '2.5.29.28', critical: true, value: seq(tlv(0x84, Buffer.from([0xff]))) };
  const ind: Entry[] = entries.map((e, i) => (i === N / 2 ? { serial: e.serial, exts: [certIssuer(other.subjectDer)] } : e));
  indirect = buildCrl({ issuer: ca.subjectDer, thisUpdate, nextUpdate, entries: ind, exts: [{ oid: '2.5.29.20', value: value.crlNumber(6) }, idp] }, key);
  // An entry with an unknown critical extension: the CRL is unusable (profileError), its index never stored.
  problem = buildCrl({ issuer: ca.subjectDer, thisUpdate, nextUpdate, entries: [...entries.slice(0, 10), { serial: '7f01', exts: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: value.utf8('x') }] }] }, key);
});
afterAll(() => pki.cleanup());

/** Every serial of the CRL found (with its reason), as the plain parse finds it; serials not in it not found. */
function expectSameAnswers(crl: ParsedCrl, reference: ParsedCrl, issuerOf: (i: number) => Uint8Array = () => ca.subjectDer) {
  expect(crl.size).toBe(reference.size);
  for (let i = 0; i < N; i++) {
    const s = serialBytes(serialHex(i));
    const got = crl.lookup(s, issuerOf(i));
    expect(got, `serial ${serialHex(i)}`).toBeDefined();
    expect(got).toEqual(reference.lookup(s, issuerOf(i)));
  }
  for (let i = 0; i < 200; i++) {
    const absent = serialBytes((0x70000000 + i * 13).toString(16));
    expect(crl.lookup(absent, ca.subjectDer)).toBeUndefined();
  }
}

describe('stored CRL layout', () => {
  it('round trip: the index is adopted (a view of the value, not a copy), every revoked serial found, absent ones not', async () => {
    const crl = parseCrl(direct);
    const value = encodeStoredCrl(1234.5, crl);
    expect(isIndexedLayout(value)).toBe(true);
    const s = await parseStoredCrl(value);
    expect(s).toMatchObject({ fetchedAt: 1234.5, index: 'adopted' });
    expect(s.why).toBeUndefined();
    // The DER is a view of the value.
    expect(s.crl.der.buffer).toBe(value.buffer);
    expect(Buffer.from(s.crl.der).equals(direct)).toBe(true);
    expectSameAnswers(s.crl, crl);
    expect(s.crl.lookup(serialBytes(serialHex(0)), ca.subjectDer)).toMatchObject({ reasonCode: 1 });
    expect(s.crl.lookup(serialBytes(serialHex(1)), other.subjectDer)).toBeUndefined();
    expect(s.crl.crlNumber).toBe(5n);
    expect(storedCrlDates(value)).toEqual({ thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate });
    expect(storedDer(value).fetchedAt).toBe(1234.5);
    expect(STORED_LAYOUT_VERSION).toBe(1);
  });

  it('round trip of an indirect CRL: entries keep their certificate issuer', async () => {
    const crl = parseCrl(indirect);
    expect(crl.idp?.indirectCRL).toBe(true);
    const s = await parseStoredCrl(encodeStoredCrl(1, crl));
    expect(s.index).toBe('adopted');
    const issuerOf = (i: number) => (i < N / 2 ? ca.subjectDer : other.subjectDer);
    expectSameAnswers(s.crl, crl, issuerOf);
    // The wrong issuer for each half: not revoked (it is another CA's certificate).
    expect(s.crl.lookup(serialBytes(serialHex(1)), other.subjectDer)).toBeUndefined();
    expect(s.crl.lookup(serialBytes(serialHex(N - 1)), ca.subjectDer)).toBeUndefined();
  });

  it('a CRL whose entries break the profile is stored without an index; read back, it is still refused', async () => {
    const crl = parseCrl(problem);
    expect(crl.profileError).toBeDefined();
    expect(indexOf(crl)).toBeUndefined();
    const s = await parseStoredCrl(encodeStoredCrl(1, crl));
    expect(s.index).toBe('none');
    expect(s.crl.profileError?.message).toBe(crl.profileError!.message);
  });

  it('reads the legacy layout (big-endian fetch time + DER)', async () => {
    const s = await parseStoredCrl(encodeLegacyStoredCrl(99, direct));
    expect(s).toMatchObject({ fetchedAt: 99, index: 'none' });
    expectSameAnswers(s.crl, parseCrl(direct));
  });

  it('an unaligned value (a copy of the table is made): still adopted and right', async () => {
    const v = encodeStoredCrl(1, parseCrl(direct));
    const shifted = new Uint8Array(v.length + 1).subarray(1);
    shifted.set(v);
    const s = await parseStoredCrl(shifted);
    expect(s.index).toBe('adopted');
    expectSameAnswers(s.crl, parseCrl(direct));
  });

  /** Header field offsets (src/crl/stored.ts). */
  const F = { version: 4, tableOff: 20, slots: 24, count: 28, rStart: 32, rEnd: 36, flags: 40, issuers: 44, sample: 60 };
  const u32 = (v: Uint8Array, off: number) => new DataView(v.buffer, v.byteOffset).getUint32(off, true);
  const setU32 = (v: Uint8Array, off: number, x: number) => new DataView(v.buffer, v.byteOffset).setUint32(off, x >>> 0, true);
  /** The first non-empty slot that the adoption spot-checks (slot 0, 1·step, 2·step, ...). */
  const spotChecked = (v: Uint8Array) => {
    const slots = u32(v, F.slots);
    const step = Math.max(1, Math.floor(slots / 256));
    for (let s = 0; s < slots; s += step) if (u32(v, u32(v, F.tableOff) + 8 * s + 4) !== 0) return s;
    throw new Error('no spot-checked slot in use');
  };
  const firstUsed = (v: Uint8Array) => {
    for (let s = 0; ; s++) if (u32(v, u32(v, F.tableOff) + 8 * s + 4) !== 0) return s;
  };

  const corruptions: Array<[string, (v: Uint8Array) => void, RegExp]> = [
    ['the DER sample', (v) => setU32(v, F.sample, u32(v, F.sample) ^ 1), /sample/],
    ['revokedCertificates start', (v) => setU32(v, F.rStart, u32(v, F.rStart) + 1), /revokedCertificates/],
    ['entry count', (v) => setU32(v, F.count, u32(v, F.count) - 1), /holds \d+ entries/],
    ['slot count (not a power of two)', (v) => setU32(v, F.slots, u32(v, F.slots) - 1), /slot count/],
    ['slot count (too big for the value)', (v) => setU32(v, F.slots, u32(v, F.slots) * 4), /out of bounds/],
    ['table offset inside the DER', (v) => setU32(v, F.tableOff, 64), /out of bounds/],
    ['indirect flag', (v) => setU32(v, F.flags, 1), /indirect/],
    ['a slot emptied (its entry would go unfound)', (v) => setU32(v, u32(v, F.tableOff) + 8 * firstUsed(v) + 4, 0), /holds \d+ entries/],
    ['a slot pointing past revokedCertificates', (v) => setU32(v, u32(v, F.tableOff) + 8 * firstUsed(v) + 4, u32(v, F.rEnd) + 5), /outside revokedCertificates/],
    ['a slot pointing inside an entry', (v) => setU32(v, u32(v, F.tableOff) + 8 * spotChecked(v) + 4, u32(v, u32(v, F.tableOff) + 8 * spotChecked(v) + 4) + 1), /does not point at an entry|hash/],
    ['a hash (another hash function)', (v) => setU32(v, u32(v, F.tableOff) + 8 * spotChecked(v), u32(v, u32(v, F.tableOff) + 8 * spotChecked(v)) ^ 0x10000), /hash/],
  ];
  for (const [what, corrupt, why] of corruptions) {
    it(`a corrupted ${what}: the index is rebuilt from the DER, and every revoked serial is still found`, async () => {
      const reference = parseCrl(direct);
      const v = encodeStoredCrl(1, reference);
      corrupt(v);
      const s = await parseStoredCrl(v);
      expect(s.index).toBe('rebuilt');
      expect(s.why).toMatch(why);
      expectSameAnswers(s.crl, reference);
    });
  }

  it('indirect CRL with a corrupted issuer index or issuer name: rebuilt, issuers right', async () => {
    const reference = parseCrl(indirect);
    const issuerOf = (i: number) => (i < N / 2 ? ca.subjectDer : other.subjectDer);
    const base = encodeStoredCrl(1, reference);
    const dv = (v: Uint8Array) => new DataView(v.buffer, v.byteOffset);
    const cases: Array<[(v: Uint8Array) => void, RegExp]> = [
      [(v) => dv(v).setUint16(u32(v, 56) + 2 * (N - 1), 7, true), /issuer is out of range/],
      [(v) => setU32(v, u32(v, 52) + 12, u32(v, F.tableOff)), /issuer name is out of bounds/],
      [(v) => setU32(v, u32(v, 48) + 4, 0), /ascending/],
      [(v) => setU32(v, F.issuers, 0), /issuer count/],
    ];
    for (const [corrupt, why] of cases) {
      const v = base.slice();
      corrupt(v);
      const s = await parseStoredCrl(v);
      expect(s.index).toBe('rebuilt');
      expect(s.why).toMatch(why);
      expectSameAnswers(s.crl, reference, issuerOf);
    }
  });

  it('another layout version is not read (the CRL is downloaded again); a cut DER neither', async () => {
    const v = encodeStoredCrl(1, parseCrl(direct));
    const newer = v.slice();
    setU32(newer, F.version, 2);
    await expect(parseStoredCrl(newer)).rejects.toMatchObject({ code: 'ERR_REVOCATION_MALFORMED_CRL', message: /layout version 2/ });
    await expect(parseStoredCrl(v.subarray(0, 64 + direct.length - 1))).rejects.toMatchObject({ code: 'ERR_REVOCATION_MALFORMED_CRL' });
    expect(storedCrlDates(newer)).toBeUndefined();
  });
});
