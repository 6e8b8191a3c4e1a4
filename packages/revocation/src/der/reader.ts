import { RevocationError } from '../errors.js';

/**
 * A strict, allocation-free DER reader over a Uint8Array. Each element is a view of offsets;
 * nothing is copied, so a 35 MB CRL is read in place. Indefinite lengths, lengths past the
 * input, non-minimal long-form lengths and multi-byte tags are refused with the byte offset.
 */
export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  offset: number;
  /** Content start and end (exclusive). */
  start: number;
  end: number;
}

export function malformed(pos: number, why: string, code = 'ERR_REVOCATION_MALFORMED_DER'): never {
  throw new RevocationError(code, `malformed DER at byte ${pos}: ${why}`);
}

export function readTlv(b: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) malformed(pos, 'truncated element');
  const tag = b[pos]!;
  if ((tag & 0x1f) === 0x1f) malformed(pos, 'multi-byte tags are not used in X.509');
  let len = b[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) malformed(pos, 'indefinite length (BER, not DER)');
    if (n > 4) malformed(pos, `length of ${n} bytes is too large`);
    if (start + n > limit) malformed(pos, 'truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    if (len < 0x80 || (n > 1 && b[start] === 0)) malformed(pos, 'non-minimal length encoding');
    start += n;
  }
  const end = start + len;
  if (end > limit) malformed(pos, `length ${len} runs past the end of its container`);
  return { tag, offset: pos, start, end };
}

/** Reads an element and checks its tag. */
export function expectTlv(b: Uint8Array, pos: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(b, pos, limit);
  if (t.tag !== tag) malformed(pos, `expected ${what} (tag 0x${tag.toString(16)}), found tag 0x${t.tag.toString(16)}`);
  return t;
}

/** The elements inside a constructed element. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const c = readTlv(b, p, parent.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

export const contentOf = (b: Uint8Array, t: Tlv): Uint8Array => b.subarray(t.start, t.end);
export const bytesOf = (b: Uint8Array, t: Tlv): Uint8Array => b.subarray(t.offset, t.end);

export function oidOf(b: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06) malformed(t.offset, 'expected an OBJECT IDENTIFIER');
  if (t.end === t.start) malformed(t.offset, 'empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    const c = b[i]!;
    v = v * 128 + (c & 0x7f);
    if (!(c & 0x80)) {
      arcs.push(v);
      v = 0;
    } else if (v > 2 ** 45) malformed(i, 'OID arc too large');
  }
  if (b[t.end - 1]! & 0x80) malformed(t.end - 1, 'truncated OID arc');
  const first = arcs.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...arcs].join('.');
}

/** INTEGER as a bigint (two's complement). */
export function integerOf(b: Uint8Array, t: Tlv): bigint {
  if (t.tag !== 0x02 || t.end === t.start) malformed(t.offset, 'expected a non-empty INTEGER');
  let v = 0n;
  for (let i = t.start; i < t.end; i++) v = (v << 8n) | BigInt(b[i]!);
  if (b[t.start]! & 0x80) v -= 1n << BigInt(8 * (t.end - t.start));
  return v;
}

/** BOOLEAN; DER allows only 0x00 and 0xff. */
export function booleanOf(b: Uint8Array, t: Tlv): boolean {
  if (t.tag !== 0x01 || t.end - t.start !== 1) malformed(t.offset, 'expected a BOOLEAN');
  return b[t.start] !== 0;
}

/**
 * UTCTime (YYMMDDHHMMSSZ; 50-99 are 19xx) or GeneralizedTime (YYYYMMDDHHMMSSZ), the forms
 * RFC 5280 section 4.1.2.5 allows.
 */
export function timeOf(b: Uint8Array, t: Tlv): Date {
  return timeAt(b, t.tag, t.offset, t.start, t.end);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * timeOf over an element given by its tag, offset and content bounds (no Tlv object).
 * Digits are read straight from the bytes and the instant is computed arithmetically: this runs
 * on every CRL hit, so no string, regex, closure or Date.UTC.
 */
export function timeAt(b: Uint8Array, tag: number, offset: number, s: number, end: number): Date {
  const len = end - s;
  let year: number;
  let p: number;
  if (tag === 0x17 && len === 13 && b[end - 1] === 0x5a) {
    const yy = digitsAt(b, s, 2);
    year = yy < 0 ? -1 : yy >= 50 ? 1900 + yy : 2000 + yy;
    p = s + 2;
  } else if (tag === 0x18 && len >= 15 && b[end - 1] === 0x5a && (len === 15 || (b[s + 14] === 0x2e && len > 16 && digitsAt(b, s + 15, len - 16) >= 0))) {
    year = digitsAt(b, s, 4);
    p = s + 4;
  } else return badTime(b, offset, s, end);
  const month = digitsAt(b, p, 2);
  const day = digitsAt(b, p + 2, 2);
  const hour = digitsAt(b, p + 4, 2);
  const minute = digitsAt(b, p + 6, 2);
  const second = digitsAt(b, p + 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return badTime(b, offset, s, end);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) malformed(offset, 'impossible date');
  // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  const days = era * 146097 + doe - 719468;
  return new Date(days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000);
}

/** `n` decimal digits at `at` as a number, or -1 if one is not a digit. */
function digitsAt(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = b[at + i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function badTime(b: Uint8Array, offset: number, start: number, end: number): never {
  return malformed(offset, `not an RFC 5280 time: ${JSON.stringify(Buffer.from(b.subarray(start, end)).toString('latin1').slice(0, 20))}`);
}

/** BIT STRING contents without the unused-bits byte, and that count. */
export function bitStringOf(b: Uint8Array, t: Tlv): { bits: Uint8Array; unused: number } {
  if (t.tag !== 0x03 || t.end === t.start) malformed(t.offset, 'expected a BIT STRING');
  const unused = b[t.start]!;
  if (unused > 7) malformed(t.offset, 'BIT STRING with more than 7 unused bits');
  return { bits: b.subarray(t.start + 1, t.end), unused };
}

/** Bit `n` (0 = most significant of the first byte) of a named-bit BIT STRING. */
export function bitSet(bits: Uint8Array, n: number): boolean {
  const byte = bits[n >> 3];
  return byte !== undefined && (byte & (0x80 >> (n & 7))) !== 0;
}
