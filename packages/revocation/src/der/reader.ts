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
  // Digits are read straight from the bytes: this runs on every CRL hit, so no string or regex.
  const len = t.end - t.start;
  const digits = (at: number, n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const c = b[t.start + at + i]! - 0x30;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  };
  let year: number;
  let p: number;
  if (t.tag === 0x17 && len === 13 && b[t.end - 1] === 0x5a) {
    const yy = digits(0, 2);
    year = yy < 0 ? -1 : yy >= 50 ? 1900 + yy : 2000 + yy;
    p = 2;
  } else if (t.tag === 0x18 && len >= 15 && b[t.end - 1] === 0x5a && (len === 15 || (b[t.start + 14] === 0x2e && len > 16 && digits(15, len - 16) >= 0))) {
    year = digits(0, 4);
    p = 4;
  } else return malformed(t.offset, `not an RFC 5280 time: ${JSON.stringify(Buffer.from(contentOf(b, t)).toString('latin1').slice(0, 20))}`);
  const month = digits(p, 2);
  const day = digits(p + 2, 2);
  const hour = digits(p + 4, 2);
  const minute = digits(p + 6, 2);
  const second = digits(p + 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return malformed(t.offset, `not an RFC 5280 time: ${JSON.stringify(Buffer.from(contentOf(b, t)).toString('latin1').slice(0, 20))}`);
  }
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (d.getUTCMonth() !== month - 1) malformed(t.offset, 'impossible date');
  if (year < 100) d.setUTCFullYear(year); // Date.UTC maps 0-99 to 1900-1999
  return d;
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
