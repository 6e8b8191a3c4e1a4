/**
 * Envoy's `x-forwarded-client-cert` (XFCC): comma-separated elements, one per proxy hop, each a
 * `;`-separated list of `Key=Value` pairs; a value may be double-quoted (then `,;=` are literal
 * and `\"` is a quote). Keys used here: `Hash` (SHA-256 hex of the DER), `Cert` (URL-encoded PEM
 * of the leaf), `Chain` (URL-encoded PEM of the leaf and its chain). Each proxy APPENDS its
 * element, so only the last one was written by the nearest (trusted) proxy; earlier elements
 * come from further away and may have been written by the client itself.
 */
export type XfccElement = Map<string, string>;

export class XfccSyntaxError extends Error {}

/** Splits an XFCC value into elements; throws XfccSyntaxError on an unbalanced quote or a pair without `=`. */
export function parseXfcc(value: string): XfccElement[] {
  const elements: XfccElement[] = [];
  let current: XfccElement = new Map();
  let key = '';
  let buf = '';
  let inKey = true;
  let quoted = false;
  let wasQuoted = false;
  const endPair = () => {
    const k = (inKey ? buf : key).trim();
    const v = inKey ? undefined : wasQuoted ? buf : buf.trim();
    if (k === '' && v === undefined) return; // empty pair (e.g. trailing ';')
    if (v === undefined) throw new XfccSyntaxError(`"${k.slice(0, 40)}" has no "="`);
    const name = k.toLowerCase();
    if (current.has(name) && name !== 'uri' && name !== 'dns') throw new XfccSyntaxError(`"${k}" appears twice in one element`);
    current.set(name, current.has(name) ? `${current.get(name)},${v}` : v);
    key = '';
    buf = '';
    inKey = true;
    wasQuoted = false;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < value.length) buf += value[++i];
      else if (c === '"') quoted = false;
      else buf += c;
      continue;
    }
    if (c === '"' && !inKey && buf.trim() === '') {
      quoted = true;
      wasQuoted = true;
      buf = '';
    } else if (c === '=' && inKey) {
      key = buf;
      buf = '';
      inKey = false;
    } else if (c === ';') {
      endPair();
    } else if (c === ',') {
      endPair();
      elements.push(current);
      current = new Map();
    } else {
      if (wasQuoted && c.trim() !== '') throw new XfccSyntaxError('text after a closing quote');
      buf += c;
    }
  }
  if (quoted) throw new XfccSyntaxError('unbalanced double quote');
  endPair();
  elements.push(current);
  return elements;
}
