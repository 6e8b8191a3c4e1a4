/**
 * A minimal DER writer: enough for CRLs and OCSP responses, and fast for a million CRL
 * entries because entries are written into one pre-sized buffer rather than built as objects.
 */

export function lengthBytes(len: number): number {
  return len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : len < 0x1000000 ? 4 : 5;
}

export function writeLength(buf: Buffer, pos: number, len: number): number {
  if (len < 0x80) {
    buf[pos] = len;
    return pos + 1;
  }
  const n = lengthBytes(len) - 1;
  buf[pos++] = 0x80 | n;
  for (let i = n - 1; i >= 0; i--) buf[pos++] = Math.floor(len / 256 ** i) & 0xff;
  return pos;
}

/** TLV with the given content parts. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = Buffer.allocUnsafe(1 + lengthBytes(len) + len);
  out[0] = tag;
  let pos = writeLength(out, 1, len);
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
export const set = (...parts: Uint8Array[]) => tlv(0x31, ...parts);
export const octets = (b: Uint8Array) => tlv(0x04, b);
export const explicit = (n: number, ...parts: Uint8Array[]) => tlv(0xa0 | n, ...parts);
export const bitString = (b: Uint8Array) => tlv(0x03, Buffer.from([0]), b);
export const enumerated = (n: number) => tlv(0x0a, Buffer.from([n]));
export const NULL = Buffer.from([0x05, 0x00]);

/** INTEGER from the unsigned big-endian magnitude (adds the 00 pad when the top bit is set). */
export function integerFromBytes(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const m = magnitude.subarray(start);
  return (m[0] ?? 0) & 0x80 ? tlv(0x02, Buffer.from([0]), m) : tlv(0x02, m.length ? m : Buffer.from([0]));
}

export function integerFromHex(hex: string): Buffer {
  const h = hex.length % 2 ? `0${hex}` : hex;
  return integerFromBytes(Buffer.from(h, 'hex'));
}

export function integer(n: bigint | number): Buffer {
  const v = BigInt(n);
  if (v < 0n) throw new RangeError('negative INTEGER');
  return integerFromHex(v.toString(16));
}

/** OID from dotted text. */
export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map((p) => BigInt(p));
  const bytes: number[] = [];
  const first = parts[0]! * 40n + parts[1]!;
  for (const arc of [first, ...parts.slice(2)]) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050; always Z, no fractions. */
export function timeText(d: Date): { tag: number; text: string } {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return y < 2050 && y >= 1950 ? { tag: 0x17, text: `${pad(y % 100)}${rest}` } : { tag: 0x18, text: `${pad(y, 4)}${rest}` };
}

export function time(d: Date): Buffer {
  const { tag, text } = timeText(d);
  return tlv(tag, Buffer.from(text, 'latin1'));
}

/** GeneralizedTime, as OCSP requires. */
export function generalizedTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  return tlv(0x18, Buffer.from(`${pad(y, 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`, 'latin1'));
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
export function extension(id: string, value: Uint8Array, critical = false): Buffer {
  return critical ? seq(oid(id), Buffer.from([0x01, 0x01, 0xff]), octets(value)) : seq(oid(id), octets(value));
}
