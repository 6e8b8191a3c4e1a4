import { booleanOf, children, integerOf, oidOf, readTlv, timeOf, type Tlv } from '../der/reader.js';
import { namesEqual } from '../der/name.js';
import { parseGeneralNames } from '../cert/general-names.js';
import { malformed } from './malformed.js';
import { ENTRY_EXT_CRITICAL, criticalProblem } from './profile.js';

/** The entry extensions this parser reads (RFC 5280 section 5.3). */
const ENTRY_EXT = { reason: '2.5.29.21', invalidity: '2.5.29.24', certIssuer: '2.5.29.29' };
/** The extensions of almost every real entry: just a reasonCode. Matched byte for byte to skip decoding. */
const REASON_ONLY = [0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01];

/** The hash of a serial's content octets, in the index's table. */
export function fnv1a(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** Whether the element of `der` from `offset` to `end` is exactly a reasonCode-only extensions SEQUENCE. */
export function isReasonOnlyAt(der: Uint8Array, offset: number, end: number): boolean {
  if (end - offset !== REASON_ONLY.length + 1) return false;
  for (let i = 0; i < REASON_ONLY.length; i++) if (der[offset + i] !== REASON_ONLY[i]) return false;
  return true;
}

/**
 * Decodes one entry's extensions: reason, invalidity date, certificate issuer; `problem` says
 * why the entry breaks the profile (RFC 5280 section 5.3: a critical extension not handled, or
 * one extension twice). Reached only by entries whose extensions are not a bare reasonCode.
 */
export function entryExtensions(b: Uint8Array, exts: Tlv): { reasonCode?: number; invalidityDate?: Date; certIssuer?: Uint8Array; problem?: string } {
  const out: ReturnType<typeof entryExtensions> = {};
  const seen: string[] = [];
  for (const ext of children(b, exts)) {
    const parts = children(b, ext);
    const oid = oidOf(b, parts[0]!);
    const critical = parts.length === 3 && booleanOf(b, parts[1]!);
    const v = parts[parts.length - 1]!;
    if (seen.includes(oid)) out.problem ??= `has entry extension ${oid} twice`;
    seen.push(oid);
    if (critical) {
      const p = criticalProblem(ENTRY_EXT_CRITICAL, oid);
      if (p) out.problem ??= p;
    }
    const inner = readTlv(b, v.start, v.end);
    if (oid === ENTRY_EXT.reason) out.reasonCode = Number(integerOf(b, { ...inner, tag: 0x02 }));
    else if (oid === ENTRY_EXT.invalidity) out.invalidityDate = timeOf(b, inner);
    else if (oid === ENTRY_EXT.certIssuer) {
      const dn = parseGeneralNames(b, children(b, inner)).find((n) => n.type === 'dn');
      out.certIssuer = dn && dn.type === 'dn' ? dn.der : new Uint8Array(0);
    }
  }
  return out;
}

/** Incremental state of the entry index, so the same code serves the sync and the sliced async parse. */
export class EntryIndex {
  readonly offsets: Uint32Array;
  /** Only for indirect CRLs: index into `issuers` of each entry's certificate issuer (0 = the CRL issuer). */
  readonly issuerIndex?: Uint16Array;
  readonly issuers: Uint8Array[];
  count = 0;
  pos: number;
  /** The first entry that breaks the profile, and why. */
  problem?: string;

  constructor(
    readonly der: Uint8Array,
    readonly revoked: Tlv,
    indirect: boolean,
    crlIssuer: Uint8Array,
    readonly v1 = false,
  ) {
    // Every entry takes at least 2 + 3 + 15 bytes; this bounds the array without a counting pass.
    this.offsets = new Uint32Array(Math.max(1, Math.ceil((revoked.end - revoked.start) / 20)));
    this.issuers = [crlIssuer];
    if (indirect) this.issuerIndex = new Uint16Array(this.offsets.length);
    this.pos = revoked.start;
  }

  /** Reads up to `max` entries; returns true when done. */
  step(max: number): boolean {
    const b = this.der;
    const end = this.revoked.end;
    let currentIssuer = this.issuers.length - 1;
    for (let n = 0; n < max && this.pos < end; n++) {
      const entry = readTlv(b, this.pos, end);
      if (entry.tag !== 0x30) malformed(`revoked entry at byte ${entry.offset} is not a SEQUENCE`);
      const serial = readTlv(b, entry.start, entry.end);
      if (serial.tag !== 0x02 || serial.end === serial.start) malformed(`revoked entry at byte ${entry.offset} has no serial number`);
      const date = readTlv(b, serial.end, entry.end);
      if (date.tag !== 0x17 && date.tag !== 0x18) malformed(`revoked entry at byte ${entry.offset} has no revocation date`);
      if (date.end < entry.end) {
        const exts = readTlv(b, date.end, entry.end);
        if (exts.tag !== 0x30 || exts.end !== entry.end) malformed(`revoked entry at byte ${entry.offset} has trailing data`);
        if (this.v1) this.problem ??= `it is a v1 CRL (no version field), yet the entry for serial ${serialText(b, serial)} has extensions; RFC 5280 section 5.1.2.1 requires v2 when extensions are used`;
        if (!this.isReasonOnly(exts)) {
          const e = entryExtensions(b, exts);
          if (e.problem) this.problem ??= `the entry for serial ${serialText(b, serial)} ${e.problem}`;
          if (e.certIssuer && this.issuerIndex) {
            currentIssuer = this.issuers.findIndex((i) => namesEqual(i, e.certIssuer!));
            if (currentIssuer === -1) currentIssuer = this.issuers.push(e.certIssuer) - 1;
          }
        }
      }
      if (this.count === this.offsets.length) malformed('more entries than its length allows');
      if (this.issuerIndex) this.issuerIndex[this.count] = currentIssuer;
      this.offsets[this.count++] = entry.offset;
      this.pos = entry.end;
    }
    return this.pos >= end;
  }

  isReasonOnly(exts: Tlv): boolean {
    return isReasonOnlyAt(this.der, exts.offset, exts.end);
  }

  /**
   * Open-addressing hash table over serial bytes, two words a slot: the 32-bit hash of the serial
   * and the entry's byte offset + 1 (0 = empty). The hash is compared before the CRL bytes are
   * touched, so a miss rarely reads the 40 MB of entries and a hit reads them once.
   */
  table?: Uint32Array;
  built = 0;

  /** Inserts up to `max` more entries into the hash table (after `step` is done); true when all are in. */
  buildStep(max: number): boolean {
    if (!this.table) {
      let slots = 16;
      while (slots < this.count * 2) slots <<= 1;
      this.table = new Uint32Array(slots * 2);
    }
    const table = this.table;
    const mask = (table.length >>> 1) - 1;
    const b = this.der;
    const offsets = this.offsets;
    const stop = Math.min(this.count, this.built + max);
    for (let i = this.built; i < stop; i++) {
      const off = offsets[i]!;
      // Entry and serial headers, already checked by `step`: skip to the serial's content.
      let p = off + 2;
      if (b[off + 1]! & 0x80) p += b[off + 1]! & 0x7f;
      let len = b[p + 1]!;
      let start = p + 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let k = 0; k < n; k++) len = len * 256 + b[start + k]!;
        start += n;
      }
      const h = fnv1a(b, start, start + len);
      let slot = h & mask;
      while (table[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
      table[2 * slot] = h;
      table[2 * slot + 1] = off + 1;
    }
    this.built = stop;
    return stop === this.count;
  }
}

function serialText(b: Uint8Array, serial: Tlv): string {
  return Buffer.from(b.subarray(serial.start, serial.end)).toString('hex');
}
