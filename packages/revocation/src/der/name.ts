import { children, contentOf, oidOf, readTlv, type Tlv } from './reader.js';

const SHORT: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber', '0.9.2342.19200300.100.1.25': 'DC', '1.2.840.113549.1.9.1': 'emailAddress',
};

function valueText(b: Uint8Array, t: Tlv): string {
  const c = contentOf(b, t);
  if (t.tag === 0x1e) return Buffer.from(c).swap16().toString('utf16le');
  return Buffer.from(c).toString(t.tag === 0x0c ? 'utf8' : 'latin1');
}

/**
 * Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET OF AttributeTypeAndValue.
 * Text in RFC 4514 order reversed for reading (as OpenSSL prints: C=US, O=..., CN=...).
 * For humans only; names are compared by `namesEqual`.
 */
export function nameText(b: Uint8Array, name: Tlv): string {
  const parts: string[] = [];
  for (const rdn of children(b, name)) {
    const atvs = children(b, rdn).map((atv) => {
      const [type, value] = children(b, atv);
      const oid = oidOf(b, type!);
      return `${SHORT[oid] ?? oid}=${valueText(b, value!).replace(/([,+=\\])/g, '\\$1')}`;
    });
    parts.push(atvs.join('+'));
  }
  return parts.join(', ');
}

/** Canonical form of each RDN, in order: case-folded, internal white space collapsed (RFC 5280 7.1, simplified). */
function canonicalRdnList(b: Uint8Array, name: Tlv): string[] {
  return children(b, name).map((rdn) =>
    children(b, rdn)
      .map((atv) => {
        const [type, value] = children(b, atv);
        return `${oidOf(b, type!)}=${valueText(b, value!).trim().replace(/\s+/g, ' ').toLowerCase()}`;
      })
      .sort()
      .join('+'),
  );
}

function canonical(b: Uint8Array, name: Tlv): string {
  return canonicalRdnList(b, name).join(',');
}

/** The canonical RDNs of a Name's DER, in order (for directoryName subtree prefixes, RFC 5280 section 7.1). */
export function canonicalRdns(der: Uint8Array): string[] {
  return canonicalRdnList(der, readTlv(der, 0, der.length));
}

/** The values of attribute `oid` in a Name's DER, with their string tags. */
export function nameAttributes(der: Uint8Array, oid: string): Array<{ tag: number; text: string }> {
  const out: Array<{ tag: number; text: string }> = [];
  for (const rdn of children(der, readTlv(der, 0, der.length))) {
    for (const atv of children(der, rdn)) {
      const [type, value] = children(der, atv);
      if (oidOf(der, type!) === oid) out.push({ tag: value!.tag, text: valueText(der, value!) });
    }
  }
  return out;
}

/** Name equality: identical DER, or equal after RFC 5280 section 7.1 style folding. */
export function namesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === b.length && Buffer.compare(a, b) === 0) return true;
  try {
    return canonical(a, readTlv(a, 0, a.length)) === canonical(b, readTlv(b, 0, b.length));
  } catch {
    return false;
  }
}
