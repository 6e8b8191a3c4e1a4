import { RevocationError } from '../errors.js';
import { booleanOf, bytesOf, children, contentOf, integerOf, oidOf, readTlv, timeAt, timeOf, type Tlv } from '../der/reader.js';
import { nameText, namesEqual } from '../der/name.js';
import { algorithmOf } from '../cert/parse.js';
import { parseDistributionPointName, parseGeneralNames, reasonMask, type GeneralName } from '../cert/general-names.js';
import { CRL_EXT_CRITICAL, ENTRY_EXT_CRITICAL, criticalProblem, profileError } from './profile.js';

/** IssuingDistributionPoint (RFC 5280 section 5.2.5), decoded. */
export interface IssuingDistributionPoint {
  fullNames: GeneralName[];
  nameRelativeToCrlIssuer?: Uint8Array;
  onlyContainsUserCerts: boolean;
  onlyContainsCACerts: boolean;
  onlySomeReasons?: number;
  indirectCRL: boolean;
  onlyContainsAttributeCerts: boolean;
}

export interface RevokedEntry {
  revokedAt: Date;
  /** CRLReason code (RFC 5280 section 5.3.1); undefined when the entry has none. */
  reasonCode?: number;
  invalidityDate?: Date;
}

export interface ParsedCrl {
  der: Uint8Array;
  /** The signed bytes (a view into `der`, not a copy). */
  tbs: Uint8Array;
  issuerDer: Uint8Array;
  issuer: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  /** The base CRL number, when this is a delta CRL. */
  deltaCrlIndicator?: bigint;
  idp?: IssuingDistributionPoint;
  aki?: Uint8Array;
  /**
   * Set when the CRL breaks the RFC 5280 profile in a way that makes it unusable (code
   * ERR_REVOCATION_CRL_PROFILE): an unknown critical CRL or entry extension, a critical flag on
   * an extension the RFC requires to be non-critical, a duplicate extension, or extensions in a
   * v1 CRL. The checker treats such a CRL like one with a bad signature. The first problem found.
   */
  profileError?: RevocationError;
  signatureAlgorithmOid: string;
  signatureAlgorithmParams?: Uint8Array;
  signatureValue: Uint8Array;
  /** Number of revoked entries. */
  size: number;
  /** The entry for `serial` (INTEGER content octets) of a certificate issued by `certIssuerDer`. */
  lookup(serial: Uint8Array, certIssuerDer: Uint8Array): RevokedEntry | undefined;
}

const EXT = { aki: '2.5.29.35', crlNumber: '2.5.29.20', delta: '2.5.29.27', idp: '2.5.29.28', reason: '2.5.29.21', invalidity: '2.5.29.24', certIssuer: '2.5.29.29', hold: '2.5.29.23' };
/** The extensions of almost every real entry: just a reasonCode. Matched byte for byte to skip decoding. */
const REASON_ONLY = [0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01];
/** The async parser works in chunks of this many entries and yields once a slice has run this long. */
const CHUNK = 2_000;
const SLICE_MS = 4;

function bad(why: string): never {
  throw new RevocationError('ERR_REVOCATION_MALFORMED_CRL', `not a valid CRL: ${why}`);
}

export function fnv1a(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

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

/**
 * IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
 *   onlyContainsUserCerts [1] BOOLEAN DEFAULT FALSE, onlyContainsCACerts [2] BOOLEAN DEFAULT FALSE,
 *   onlySomeReasons [3] ReasonFlags OPTIONAL, indirectCRL [4] BOOLEAN DEFAULT FALSE,
 *   onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
 */
function parseIdp(b: Uint8Array, seq: Tlv): IssuingDistributionPoint {
  const idp: IssuingDistributionPoint = { fullNames: [], onlyContainsUserCerts: false, onlyContainsCACerts: false, indirectCRL: false, onlyContainsAttributeCerts: false };
  for (const f of children(b, seq)) {
    const flag = () => booleanOf(b, { ...f, tag: 0x01 });
    switch (f.tag) {
      case 0xa0: {
        const n = parseDistributionPointName(b, f);
        idp.fullNames = n.fullNames;
        if (n.rdn) idp.nameRelativeToCrlIssuer = n.rdn;
        break;
      }
      case 0x81:
        idp.onlyContainsUserCerts = flag();
        break;
      case 0x82:
        idp.onlyContainsCACerts = flag();
        break;
      case 0x83:
        idp.onlySomeReasons = reasonMask(b, { ...f, tag: 0x03 });
        break;
      case 0x84:
        idp.indirectCRL = flag();
        break;
      case 0x85:
        idp.onlyContainsAttributeCerts = flag();
        break;
    }
  }
  return idp;
}

/**
 * Decodes one entry's extensions: reason, invalidity date, certificate issuer; `problem` says
 * why the entry breaks the profile (RFC 5280 section 5.3: a critical extension not handled, or
 * one extension twice). Reached only by entries whose extensions are not a bare reasonCode.
 */
function entryExtensions(b: Uint8Array, exts: Tlv): { reasonCode?: number; invalidityDate?: Date; certIssuer?: Uint8Array; problem?: string } {
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
    if (oid === EXT.reason) out.reasonCode = Number(integerOf(b, { ...inner, tag: 0x02 }));
    else if (oid === EXT.invalidity) out.invalidityDate = timeOf(b, inner);
    else if (oid === EXT.certIssuer) {
      const dn = parseGeneralNames(b, children(b, inner)).find((n) => n.type === 'dn');
      out.certIssuer = dn && dn.type === 'dn' ? dn.der : new Uint8Array(0);
    }
  }
  return out;
}

interface Header {
  crl: Omit<ParsedCrl, 'size' | 'lookup'>;
  /** The revokedCertificates SEQUENCE, when present. */
  revoked?: Tlv;
  /** No version field: a v1 CRL, which may carry no extensions at all (RFC 5280 section 5.1.2.1). */
  v1: boolean;
}

/**
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL (v2), signature AlgorithmIdentifier, issuer Name,
 *   thisUpdate Time, nextUpdate Time OPTIONAL,
 *   revokedCertificates SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time,
 *     crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *   crlExtensions [0] EXPLICIT Extensions OPTIONAL }                           -- RFC 5280 section 5.1
 */
function readHeader(der: Uint8Array): Header {
  const top = readTlv(der, 0, der.length);
  if (top.tag !== 0x30 || top.end !== der.length) bad('not a single SEQUENCE');
  const tbsT = readTlv(der, top.start, top.end);
  const sigAlgT = readTlv(der, tbsT.end, top.end);
  const sigT = readTlv(der, sigAlgT.end, top.end);
  if (tbsT.tag !== 0x30 || sigAlgT.tag !== 0x30 || sigT.tag !== 0x03 || sigT.end !== top.end) bad('expected tbsCertList, signatureAlgorithm, signatureValue');
  let p = tbsT.start;
  let t = readTlv(der, p, tbsT.end);
  const v1 = t.tag !== 0x02;
  if (!v1) {
    if (integerOf(der, t) !== 1n) bad('unsupported CRL version');
    t = readTlv(der, t.end, tbsT.end);
  }
  if (t.tag !== 0x30) bad('missing signature algorithm');
  const issuerT = readTlv(der, t.end, tbsT.end);
  if (issuerT.tag !== 0x30) bad('missing issuer');
  const thisT = readTlv(der, issuerT.end, tbsT.end);
  p = thisT.end;
  let nextUpdate: Date | undefined;
  let revoked: Tlv | undefined;
  let extsT: Tlv | undefined;
  while (p < tbsT.end) {
    const f = readTlv(der, p, tbsT.end);
    if ((f.tag === 0x17 || f.tag === 0x18) && !nextUpdate && !revoked) nextUpdate = timeOf(der, f);
    else if (f.tag === 0x30 && !revoked && !extsT) revoked = f;
    else if (f.tag === 0xa0 && !extsT) extsT = f;
    else bad(`unexpected field with tag 0x${f.tag.toString(16)} at byte ${f.offset}`);
    p = f.end;
  }
  const alg = algorithmOf(der, sigAlgT);
  const crl: Header['crl'] = {
    der,
    tbs: bytesOf(der, tbsT),
    issuerDer: bytesOf(der, issuerT),
    issuer: nameText(der, issuerT),
    thisUpdate: timeOf(der, thisT),
    nextUpdate,
    signatureAlgorithmOid: alg.oid,
    signatureAlgorithmParams: alg.params,
    signatureValue: contentOf(der, sigT).subarray(1),
  };
  if (extsT) {
    const list = readTlv(der, extsT.start, extsT.end);
    const seen = new Set<string>();
    const problem = (why: string) => void (crl.profileError ??= profileError(crl.issuer, why));
    if (v1) problem('it is a v1 CRL (no version field) with CRL extensions; RFC 5280 section 5.1.2.1 requires v2 when extensions are used');
    for (const ext of children(der, list)) {
      const parts = children(der, ext);
      const oid = oidOf(der, parts[0]!);
      const critical = parts.length === 3 && booleanOf(der, parts[1]!);
      const v = parts[parts.length - 1]!;
      if (seen.has(oid)) problem(`it has CRL extension ${oid} twice`);
      seen.add(oid);
      if (critical) {
        const p = criticalProblem(CRL_EXT_CRITICAL, oid);
        if (p) problem(`it ${p}`);
      }
      const inner = readTlv(der, v.start, v.end);
      if (oid === EXT.crlNumber) crl.crlNumber = integerOf(der, inner);
      else if (oid === EXT.delta) crl.deltaCrlIndicator = integerOf(der, inner);
      else if (oid === EXT.idp) crl.idp = parseIdp(der, inner);
      else if (oid === EXT.aki) {
        const kid = children(der, inner).find((c) => c.tag === 0x80);
        if (kid) crl.aki = contentOf(der, kid);
      }
    }
  }
  // RFC 5280 5.2.4 (d) orders a delta after its complete CRL by cRLNumber: without one it cannot be combined (OpenSSL: EXFLAG_INVALID).
  if (crl.deltaCrlIndicator !== undefined && crl.crlNumber === undefined) crl.profileError ??= profileError(crl.issuer, 'it is a delta CRL without a cRLNumber (RFC 5280 sections 5.2.3, 5.2.4)');
  return { crl, revoked, v1 };
}

/** Incremental state of the entry index, so the same code serves the sync and the sliced async parse. */
class EntryIndex {
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
      if (entry.tag !== 0x30) bad(`revoked entry at byte ${entry.offset} is not a SEQUENCE`);
      const serial = readTlv(b, entry.start, entry.end);
      if (serial.tag !== 0x02 || serial.end === serial.start) bad(`revoked entry at byte ${entry.offset} has no serial number`);
      const date = readTlv(b, serial.end, entry.end);
      if (date.tag !== 0x17 && date.tag !== 0x18) bad(`revoked entry at byte ${entry.offset} has no revocation date`);
      if (date.end < entry.end) {
        const exts = readTlv(b, date.end, entry.end);
        if (exts.tag !== 0x30 || exts.end !== entry.end) bad(`revoked entry at byte ${entry.offset} has trailing data`);
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
      if (this.count === this.offsets.length) bad('more entries than its length allows');
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

/** Whether the element of `der` from `offset` to `end` is exactly a reasonCode-only extensions SEQUENCE. */
function isReasonOnlyAt(der: Uint8Array, offset: number, end: number): boolean {
  if (end - offset !== REASON_ONLY.length + 1) return false;
  for (let i = 0; i < REASON_ONLY.length; i++) if (der[offset + i] !== REASON_ONLY[i]) return false;
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

/** The index each parsed CRL was built with, when its entries break no profile rule (so it may be stored and adopted). */
const indexes = new WeakMap<ParsedCrl, CrlIndex>();

/** The index of a CRL this module parsed, for storing it next to the DER; undefined for a CRL with no entries or a profile problem in them. */
export function indexOf(crl: ParsedCrl): CrlIndex | undefined {
  return indexes.get(crl);
}

function finish(header: Header, index: EntryIndex | undefined): ParsedCrl {
  const { crl } = header;
  if (index?.problem) crl.profileError ??= profileError(crl.issuer, index.problem);
  if (!index) return { ...crl, size: 0, lookup: () => undefined };
  index.buildStep(Number.MAX_SAFE_INTEGER);
  // Only what a lookup needs is kept: the offsets array goes unless entries have their own issuers.
  const idx: CrlIndex = { table: index.table!, count: index.count, issuers: index.issuers };
  if (index.issuerIndex) {
    idx.offsets = index.offsets.subarray(0, index.count);
    idx.issuerIndex = index.issuerIndex.subarray(0, index.count);
  }
  const parsed = withIndex(header, idx);
  if (!index.problem) indexes.set(parsed, idx);
  return parsed;
}

/** The fields of a CRL and its revokedCertificates element, without touching the entries. */
export function readCrlHeader(der: Uint8Array): Header {
  return wrap(() => readHeader(der));
}

export type { Header as CrlHeader };

/**
 * The CRL of `header` answering lookups from `idx`, which must have been built over the very
 * same DER (crl/stored.ts checks that before it adopts a stored index).
 */
export function withIndex(header: Header, idx: CrlIndex): ParsedCrl {
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

function toDer(input: Uint8Array): Uint8Array {
  if (input[0] !== 0x2d) return input; // DER starts with 0x30; PEM with "-"
  const m = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(Buffer.from(input).toString('latin1'));
  if (!m) bad('PEM input without a "BEGIN X509 CRL" block');
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RevocationError && err.code === 'ERR_REVOCATION_MALFORMED_CRL') throw err;
    throw new RevocationError('ERR_REVOCATION_MALFORMED_CRL', `not a valid CRL: ${(err as Error).message}`);
  }
}

/**
 * Parses a CRL (DER or PEM) straight over its bytes: the header is decoded, the entries are
 * only located (an offset each in a typed array) and indexed by a hash of their serial, so a
 * million-entry CRL costs a few MB beyond its own bytes and a lookup is a hash probe.
 * Entry details (date, reason) are decoded on a hit.
 * @throws RevocationError ERR_REVOCATION_MALFORMED_CRL, never anything else
 */
export function parseCrl(input: Uint8Array): ParsedCrl {
  return wrap(() => {
    const der = toDer(input);
    const header = readHeader(der);
    if (!header.revoked) return finish(header, undefined);
    const index = new EntryIndex(der, header.revoked, header.crl.idp?.indirectCRL === true, header.crl.issuerDer, header.v1);
    index.step(Number.MAX_SAFE_INTEGER);
    return finish(header, index);
  });
}

/**
 * Same as parseCrl, in slices of about 4 ms with a yield to the event loop between them,
 * so loading a large CRL does not stall TLS handshakes on the same thread.
 */
export async function parseCrlAsync(input: Uint8Array): Promise<ParsedCrl> {
  const der = wrap(() => toDer(input));
  const header = wrap(() => readHeader(der));
  if (!header.revoked) return finish(header, undefined);
  const index = new EntryIndex(der, header.revoked, header.crl.idp?.indirectCRL === true, header.crl.issuerDer, header.v1);
  const sliced = async (work: () => boolean): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      let done = false;
      while (!(done = wrap(work)) && performance.now() - t0 < SLICE_MS);
      if (done) return;
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  await sliced(() => index.step(CHUNK));
  await sliced(() => index.buildStep(CHUNK));
  return wrap(() => finish(header, index));
}
