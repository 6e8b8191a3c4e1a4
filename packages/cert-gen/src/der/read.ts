import { CertGenError } from '../errors.js';

/** A DER element: tag, and where its content lies in the input. */
export interface Element {
  tag: number;
  /** Start of the whole TLV. */
  offset: number;
  start: number;
  end: number;
}

/** Reads one TLV at `pos`, refusing indefinite and out-of-range lengths. */
export function read(b: Uint8Array, pos: number, limit = b.length): Element {
  const bad = (why: string): never => {
    throw new CertGenError('ERR_CERTGEN_INVALID_INPUT', `malformed DER at byte ${pos}: ${why}`);
  };
  if (pos + 2 > limit) bad('truncated');
  const tag = b[pos]!;
  if ((tag & 0x1f) === 0x1f) bad('multi-byte tags are not supported');
  let len = b[pos + 1]!;
  let start = pos + 2;
  if (len === 0x80) bad('indefinite length');
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4 || start + n > limit) bad('length too long');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  if (start + len > limit) bad('length beyond the input');
  return { tag, offset: pos, start, end: start + len };
}

/** The children of a constructed element. */
export function children(b: Uint8Array, el: Element): Element[] {
  const out: Element[] = [];
  for (let p = el.start; p < el.end; ) {
    const c = read(b, p, el.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

export const content = (b: Uint8Array, el: Element) => b.subarray(el.start, el.end);
export const whole = (b: Uint8Array, el: Element) => b.subarray(el.offset, el.end);

/** Dotted OID text of an OBJECT IDENTIFIER element. */
export function oidText(b: Uint8Array, el: Element): string {
  const c = content(b, el);
  const arcs: bigint[] = [];
  let v = 0n;
  for (const byte of c) {
    v = (v << 7n) | BigInt(byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs.shift() ?? 0n;
  const a = first < 80n ? first / 40n : 2n;
  return [a, first - a * 40n, ...arcs].join('.');
}
