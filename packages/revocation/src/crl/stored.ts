import { RevocationError } from '../errors.js';
import { readTlv } from '../der/reader.js';
import { fnv1a } from './entries.js';
import type { CrlHeader } from './header.js';
import { serialAt, withIndex, type CrlIndex } from './lookup.js';
import { indexOf, parseCrlAsync, readCrlHeader, type ParsedCrl } from './parse.js';

/**
 * How a downloaded CRL is kept in the revocation store (the server's lmdb), so that a process
 * reading it maps it instead of copying it and rebuilding its index:
 *
 *   offset  size  field (little-endian)
 *   0       4     magic 00 48 54 43 ("\0HTC"; a legacy value starts with a float64 > 0, never 00)
 *   4       4     layout version (1)
 *   8       8     fetchedAt, ms since the epoch (float64)
 *   16      4     DER length
 *   20      4     table offset (0: no index stored; a reader parses the DER)
 *   24      4     table slots (the table is 2 words a slot: serial hash, entry offset + 1)
 *   28      4     entries
 *   32      8     start and end of revokedCertificates in the DER (as the index saw them)
 *   40      4     flags: 1 = indirect (per-entry issuers follow)
 *   44      4     issuers (indirect only; the first is the CRL issuer)
 *   48      12    offsets of: entry offsets (u32 each), issuer refs (u32 start, end into the DER), issuer index (u16 each)
 *   60      4     FNV-1a of the DER's first and last 4 KiB (catches a table next to other bytes)
 *   64      ...   DER, then zero padding to 8, then the table, then the indirect arrays.
 *
 * The legacy layout (a big-endian float64 fetchedAt, then the DER) is still read, and still
 * written for stores that cannot map values (the cluster engine: other nodes may run older code).
 * A stored index is trusted as much as the DER next to it (the node's own 0600 store), but it is
 * only adopted when it fits: any version, length, range, alignment or sample mismatch and the
 * index is rebuilt from the DER. A lookup can never read outside the DER (typed arrays are
 * bounds-checked, and every entry offset is checked to lie within revokedCertificates).
 */
export const STORED_LAYOUT_VERSION = 1;
const MAGIC = [0x00, 0x48, 0x54, 0x43];
const HEADER = 64;
/** Bytes before the DER in the legacy layout (its fetchedAt). */
export const LEGACY_HEADER = 8;
const SAMPLE = 4096;
/** Table slots checked against the DER on adoption (hash of the serial each points at). */
const SPOT_CHECKS = 256;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export interface StoredCrl {
  crl: ParsedCrl;
  fetchedAt: number;
  /** How the index was had: adopted from the value, rebuilt from its DER (with why), or the value had none. */
  index: 'adopted' | 'rebuilt' | 'none';
  why?: string;
}

const align8 = (n: number) => (n + 7) & ~7;

function sampleOf(der: Uint8Array): number {
  const head = fnv1a(der, 0, Math.min(SAMPLE, der.length));
  const tail = fnv1a(der, Math.max(0, der.length - SAMPLE), der.length);
  return (Math.imul(head, 31) ^ tail) >>> 0;
}

/** Whether `value` is in this module's layout (not the legacy one). */
export function isIndexedLayout(value: Uint8Array): boolean {
  return value.length >= HEADER && MAGIC.every((b, i) => value[i] === b);
}

/**
 * The legacy value in place: `value` is LEGACY_HEADER bytes of room then the DER (a download
 * made with that room in front, so the DER is a view of it and nothing is copied); fetchedAt
 * (big-endian float64) goes into the room. Returns `value`.
 */
export function writeLegacyHeader(value: Uint8Array, fetchedAt: number): Uint8Array {
  new DataView(value.buffer, value.byteOffset, LEGACY_HEADER).setFloat64(0, fetchedAt, false);
  return value;
}

/** The legacy value of `der`, copied into a new buffer. */
export function encodeLegacyStoredCrl(fetchedAt: number, der: Uint8Array): Uint8Array {
  const out = new Uint8Array(LEGACY_HEADER + der.length);
  out.set(der, LEGACY_HEADER);
  return writeLegacyHeader(out, fetchedAt);
}

/** One buffer: header, the CRL's DER, and (when its index may be stored) the index. */
export function encodeStoredCrl(fetchedAt: number, crl: ParsedCrl): Uint8Array {
  const der = crl.der;
  const idx = LITTLE_ENDIAN ? indexOf(crl) : undefined;
  const revoked = idx ? readCrlHeader(der).revoked : undefined;
  let size = HEADER + der.length;
  let tableOff = 0;
  let offsetsOff = 0;
  let issuersOff = 0;
  let issuerIndexOff = 0;
  if (idx && revoked) {
    tableOff = align8(size);
    size = tableOff + idx.table.byteLength;
    if (idx.issuerIndex) {
      offsetsOff = size;
      size += idx.count * 4;
      issuersOff = size;
      size += idx.issuers.length * 8;
      issuerIndexOff = size;
      size += idx.count * 2;
    }
  }
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(4, STORED_LAYOUT_VERSION, true);
  v.setFloat64(8, fetchedAt, true);
  v.setUint32(16, der.length, true);
  out.set(der, HEADER);
  if (idx && revoked) {
    v.setUint32(20, tableOff, true);
    v.setUint32(24, idx.table.length >>> 1, true);
    v.setUint32(28, idx.count, true);
    v.setUint32(32, revoked.start, true);
    v.setUint32(36, revoked.end, true);
    out.set(new Uint8Array(idx.table.buffer, idx.table.byteOffset, idx.table.byteLength), tableOff);
    if (idx.issuerIndex) {
      v.setUint32(40, 1, true);
      v.setUint32(44, idx.issuers.length, true);
      v.setUint32(48, offsetsOff, true);
      v.setUint32(52, issuersOff, true);
      v.setUint32(56, issuerIndexOff, true);
      out.set(new Uint8Array(idx.offsets!.buffer, idx.offsets!.byteOffset, idx.count * 4), offsetsOff);
      idx.issuers.forEach((iss, i) => {
        const start = iss.length && iss.buffer === der.buffer ? iss.byteOffset - der.byteOffset : 0;
        v.setUint32(issuersOff + 8 * i, start, true);
        v.setUint32(issuersOff + 8 * i + 4, start + (iss.length && iss.buffer === der.buffer ? iss.length : 0), true);
      });
      out.set(new Uint8Array(idx.issuerIndex.buffer, idx.issuerIndex.byteOffset, idx.count * 2), issuerIndexOff);
    }
  }
  v.setUint32(60, sampleOf(der), true);
  return out;
}

/** A typed array over `value` at `off` (a view when aligned, else a copy). */
function u32At(value: Uint8Array, off: number, n: number): Uint32Array {
  if ((value.byteOffset + off) % 4 === 0) return new Uint32Array(value.buffer, value.byteOffset + off, n);
  return new Uint32Array(value.slice(off, off + n * 4).buffer);
}
function u16At(value: Uint8Array, off: number, n: number): Uint16Array {
  if ((value.byteOffset + off) % 2 === 0) return new Uint16Array(value.buffer, value.byteOffset + off, n);
  return new Uint16Array(value.slice(off, off + n * 2).buffer);
}

/** The stored index of `value`, checked against `header` (of the DER next to it); a string says why it does not fit. */
function adopt(value: Uint8Array, v: DataView, header: CrlHeader): CrlIndex | string {
  const der = header.crl.der;
  const tableOff = v.getUint32(20, true);
  if (tableOff === 0) return 'no index stored';
  if (!LITTLE_ENDIAN) return 'big-endian host';
  if (v.getUint32(60, true) !== sampleOf(der)) return 'the DER sample does not match';
  const revoked = header.revoked;
  const rStart = v.getUint32(32, true);
  const rEnd = v.getUint32(36, true);
  if (!revoked || revoked.start !== rStart || revoked.end !== rEnd) return 'revokedCertificates is not where the index says';
  const slots = v.getUint32(24, true);
  const count = v.getUint32(28, true);
  if (slots < 16 || (slots & (slots - 1)) !== 0 || slots < count * 2) return `bad slot count ${slots} for ${count} entries`;
  if (tableOff < HEADER + der.length || tableOff % 8 !== 0 || tableOff + slots * 8 > value.length) return 'the table is out of bounds';
  const indirect = (v.getUint32(40, true) & 1) === 1;
  if (indirect !== (header.crl.idp?.indirectCRL === true)) return 'indirect flag mismatch';
  const table = u32At(value, tableOff, slots * 2);
  // Every entry once, each offset inside revokedCertificates: a lookup stays within the DER, ends at an empty slot, and finds every entry that was indexed.
  let used = 0;
  for (let i = 1; i < table.length; i += 2) {
    const o = table[i]!;
    if (o === 0) continue;
    if (o - 1 < rStart || o - 1 >= rEnd) return `slot ${i >>> 1} points outside revokedCertificates`;
    used++;
  }
  if (used !== count) return `the table holds ${used} entries, the header says ${count}`;
  const idx: CrlIndex = { table, count, issuers: [header.crl.issuerDer] };
  if (indirect) {
    const offsetsOff = v.getUint32(48, true);
    const issuersOff = v.getUint32(52, true);
    const issuerIndexOff = v.getUint32(56, true);
    const nIssuers = v.getUint32(44, true);
    if (nIssuers < 1 || nIssuers > 0x10000) return 'bad issuer count';
    if (offsetsOff < tableOff + slots * 8 || offsetsOff + count * 4 > value.length || issuersOff + nIssuers * 8 > value.length || issuerIndexOff + count * 2 > value.length) return 'the issuer arrays are out of bounds';
    const offsets = u32At(value, offsetsOff, count);
    let prev = -1;
    for (let i = 0; i < count; i++) {
      const o = offsets[i]!;
      if (o <= prev || o < rStart || o >= rEnd) return 'entry offsets are not ascending inside revokedCertificates';
      prev = o;
    }
    const issuerIndex = u16At(value, issuerIndexOff, count);
    for (let i = 0; i < count; i++) if (issuerIndex[i]! >= nIssuers) return 'an entry issuer is out of range';
    for (let i = 1; i < nIssuers; i++) {
      const s = v.getUint32(issuersOff + 8 * i, true);
      const e = v.getUint32(issuersOff + 8 * i + 4, true);
      if (e < s || e > der.length) return 'an issuer name is out of bounds';
      if (e > s) {
        const t = readTlv(der, s, e);
        if (t.tag !== 0x30 || t.end !== e) return 'an issuer name is not a Name';
      }
      idx.issuers.push(der.subarray(s, e));
    }
    idx.offsets = offsets;
    idx.issuerIndex = issuerIndex;
  }
  // Spot checks: slots spread over the table hold the hash of the serial they point at (and, indirect, an entry the offsets list has).
  const step = Math.max(1, Math.floor(slots / SPOT_CHECKS));
  for (let slot = 0; slot < slots; slot += step) {
    const o = table[2 * slot + 1]!;
    if (o === 0) continue;
    if (der[o - 1] !== 0x30) return `slot ${slot} does not point at an entry`;
    const [s, e] = serialAt(der, o - 1);
    if (e > rEnd || fnv1a(der, s, e) !== table[2 * slot]) return `slot ${slot} does not hold its serial's hash`;
    if (idx.offsets && !hasOffset(idx.offsets, o - 1)) return `slot ${slot} points at no listed entry`;
  }
  return idx;
}

function hasOffset(offsets: Uint32Array, off: number): boolean {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid]! === off) return true;
    if (offsets[mid]! < off) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** The fetch time and DER of a stored value (either layout), without parsing the entries. */
export function storedDer(value: Uint8Array): { fetchedAt: number; der: Uint8Array } {
  if (!isIndexedLayout(value)) {
    if (value.length <= LEGACY_HEADER) throw new RevocationError('ERR_REVOCATION_MALFORMED_CRL', 'not a valid CRL: the stored value is too short');
    return { fetchedAt: new DataView(value.buffer, value.byteOffset, LEGACY_HEADER).getFloat64(0, false), der: value.subarray(LEGACY_HEADER) };
  }
  const v = new DataView(value.buffer, value.byteOffset, HEADER);
  const version = v.getUint32(4, true);
  if (version !== STORED_LAYOUT_VERSION) throw new RevocationError('ERR_REVOCATION_MALFORMED_CRL', `not a valid CRL: stored layout version ${version}, this code reads ${STORED_LAYOUT_VERSION}`);
  const derLength = v.getUint32(16, true);
  if (HEADER + derLength > value.length) throw new RevocationError('ERR_REVOCATION_MALFORMED_CRL', 'not a valid CRL: the stored DER is cut short');
  return { fetchedAt: v.getFloat64(8, true), der: value.subarray(HEADER, HEADER + derLength) };
}

/**
 * The CRL in a stored value: its index adopted when it fits (nothing rebuilt, nothing copied:
 * the CRL reads `value`, which may be a view of the store's memory map), else rebuilt from the
 * DER (still a view of `value`). The caller keeps `value` valid as long as it uses the CRL.
 * @throws RevocationError ERR_REVOCATION_MALFORMED_CRL
 */
export async function parseStoredCrl(value: Uint8Array): Promise<StoredCrl> {
  const { fetchedAt, der } = storedDer(value);
  if (!isIndexedLayout(value)) return { crl: await parseCrlAsync(der), fetchedAt, index: 'none' };
  const header = readCrlHeader(der);
  if (!header.revoked) return { crl: await parseCrlAsync(der), fetchedAt, index: 'none' };
  let why: string;
  try {
    const idx = adopt(value, new DataView(value.buffer, value.byteOffset, value.byteLength), header);
    if (typeof idx !== 'string') return { crl: withIndex(header, idx), fetchedAt, index: 'adopted' };
    why = idx;
  } catch (err) {
    why = (err as Error).message;
  }
  return { crl: await parseCrlAsync(der), fetchedAt, index: why === 'no index stored' ? 'none' : 'rebuilt', why };
}

/** thisUpdate and nextUpdate of a stored CRL (either layout), from its header alone; undefined when unreadable. */
export function storedCrlDates(value: Uint8Array): { thisUpdate: Date; nextUpdate?: Date } | undefined {
  try {
    const { crl } = readCrlHeader(storedDer(value).der);
    return { thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate };
  } catch {
    return undefined;
  }
}
