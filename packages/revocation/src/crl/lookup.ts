import { readTlv, timeAt } from '../der/reader.js';
import { namesEqual } from '../der/name.js';
import { entryExtensions, fnv1a, isReasonOnlyAt } from './entries.js';
import type { CrlHeader } from './header.js';
import type { ParsedCrl, RevokedEntry } from './types.js';

/** End of the element last read by `contentAt`; a module slot so the hot paths allocate nothing. */
let elementEnd = 0;

/** The serial's content octets of the entry at `off` (start and end), read as a lookup reads them. */
export function serialAt(b: Uint8Array, off: number): [number, number] {
  const s = contentAt(b, contentAt(b, off));
  return [s, elementEnd];
}
/**
 * Content start of the element at `pos`, its end in `elementEnd`. Only for elements that
 * `EntryIndex.step` has already read with the strict `readTlv` (entries and their serials).
 */
function contentAt(b: Uint8Array, pos: number): number {
  let len = b[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  elementEnd = start + len;
  return start;
}

/** Byte equality; a plain loop beats Buffer.compare's native call for the short names it is used on. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Index of the entry at byte `off` in the ascending `offsets` (binary search; indirect CRLs only). */
function entryAt(offsets: Uint32Array, count: number, off: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid]! < off) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * What a lookup reads besides the DER: the hash table (see `EntryIndex.table`), the number of
 * entries, and for indirect CRLs each entry's offset (ascending) and issuer (index into
 * `issuers`, 0 = the CRL issuer; the others are views of the DER). Built by the parse, or
 * adopted from a stored copy (crl/stored.ts).
 */
export interface CrlIndex {
  table: Uint32Array;
  count: number;
  offsets?: Uint32Array;
  issuerIndex?: Uint16Array;
  issuers: Uint8Array[];
}

/**
 * The CRL of `header` answering lookups from `idx`, which must have been built over the very
 * same DER (crl/stored.ts checks that before it adopts a stored index).
 */
export function withIndex(header: CrlHeader, idx: CrlIndex): ParsedCrl {
  const { crl } = header;
  const table = idx.table;
  const mask = (table.length >>> 1) - 1;
  const der = crl.der;
  const count = idx.count;
  const issuerIndex = idx.issuerIndex;
  const offsets = issuerIndex ? idx.offsets : undefined;
  const issuers = idx.issuers;
  const crlIssuer = crl.issuerDer;
  return {
    ...crl,
    size: count,
    lookup(serial, certIssuerDer) {
      const h = fnv1a(serial, 0, serial.length);
      let slot = h & mask;
      for (let o = table[2 * slot + 1]!; o !== 0; slot = (slot + 1) & mask, o = table[2 * slot + 1]!) {
        if (table[2 * slot] !== h) continue;
        const off = o - 1;
        const eStart = contentAt(der, off);
        const eEnd = elementEnd;
        const sStart = contentAt(der, eStart);
        const sEnd = elementEnd;
        if (sEnd - sStart !== serial.length) continue;
        let same = true;
        for (let k = 0; k < serial.length; k++) {
          if (der[sStart + k] !== serial[k]) {
            same = false;
            break;
          }
        }
        if (!same) continue;
        const entryIssuer = issuerIndex ? issuers[issuerIndex[entryAt(offsets!, count, off)]!]! : crlIssuer;
        if (!sameBytes(entryIssuer, certIssuerDer) && !namesEqual(entryIssuer, certIssuerDer)) continue;
        const dStart = contentAt(der, sEnd);
        const dEnd = elementEnd;
        const result: RevokedEntry = { revokedAt: timeAt(der, der[sEnd]!, sEnd, dStart, dEnd) };
        if (dEnd < eEnd) {
          if (isReasonOnlyAt(der, dEnd, eEnd)) {
            // The common case, checked byte for byte: the reason is the last byte.
            const r = der[eEnd - 1]!;
            result.reasonCode = r & 0x80 ? r - 256 : r; // ENUMERATED, two's complement like integerOf
            result.invalidityDate = undefined; // same shape as the general path
            return result;
          }
          const e = entryExtensions(der, readTlv(der, dEnd, eEnd));
          result.reasonCode = e.reasonCode;
          result.invalidityDate = e.invalidityDate;
        }
        return result;
      }
      return undefined;
    },
  };
}
