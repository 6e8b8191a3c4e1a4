/**
 * Reads the subject CN straight from the certificate's DER, because Node's parsed `subject`
 * string cannot tell a CN containing "\nCN=" or "," apart from several attributes.
 *
 *   Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, ... }
 *   TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, serialNumber,
 *        signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name, ... }
 *   Name ::= SEQUENCE OF RelativeDistinguishedName
 *   RelativeDistinguishedName ::= SET OF AttributeTypeAndValue
 *   AttributeTypeAndValue ::= SEQUENCE { type OID, value ANY }   -- CN is 2.5.4.3 (RFC 5280 4.1.2.4)
 */

interface Tlv {
  tag: number;
  start: number;
  end: number;
  next: number;
}

function tlv(b: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new Error('truncated');
  const tag = b[pos]!;
  let len = b[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new Error('length beyond input');
  return { tag, start, end, next: end };
}

const CN_OID = [0x55, 0x04, 0x03];

function decodeString(tag: number, bytes: Uint8Array): string | undefined {
  switch (tag) {
    case 0x0c: // UTF8String
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        return undefined; // not UTF-8: no user, rather than a guess
      }
    case 0x13: // PrintableString
    case 0x16: // IA5String
      return bytes.every((c) => c < 0x80) ? Buffer.from(bytes).toString('latin1') : undefined;
    case 0x14: // TeletexString, read as Latin-1 as most software does
      return Buffer.from(bytes).toString('latin1');
    case 0x1e: // BMPString (UTF-16BE)
      if (bytes.length % 2) return undefined;
      return Buffer.from(bytes).swap16().toString('utf16le');
    default:
      return undefined;
  }
}

/** Every CN value of the subject, decoded; undefined entries for undecodable values. */
export function subjectCommonNames(der: Uint8Array): Array<string | undefined> {
  const cert = tlv(der, 0, der.length);
  const tbs = tlv(der, cert.start, cert.end);
  let pos = tbs.start;
  let field = tlv(der, pos, tbs.end);
  if (field.tag === 0xa0) field = tlv(der, field.next, tbs.end); // version
  // serialNumber, signature, issuer, validity, then subject
  for (let i = 0; i < 4; i++) field = tlv(der, field.next, tbs.end);
  const subject = field;
  if (subject.tag !== 0x30) throw new Error('subject is not a SEQUENCE');
  const out: Array<string | undefined> = [];
  for (pos = subject.start; pos < subject.end; ) {
    const rdn = tlv(der, pos, subject.end);
    for (let p = rdn.start; p < rdn.end; ) {
      const atv = tlv(der, p, rdn.end);
      const oid = tlv(der, atv.start, atv.end);
      const value = tlv(der, oid.next, atv.end);
      if (oid.tag === 0x06 && oid.end - oid.start === 3 && CN_OID.every((c, i) => der[oid.start + i] === c)) {
        out.push(decodeString(value.tag, der.subarray(value.start, value.end)));
      }
      p = atv.next;
    }
    pos = rdn.next;
  }
  return out;
}

/**
 * The username a certificate names: its single subject CN, exactly as encoded (no trimming, no
 * case folding). Several CNs, none, or one that cannot be decoded: undefined (no user).
 */
export function usernameFromCertificate(der: Uint8Array): string | undefined {
  try {
    const cns = subjectCommonNames(der);
    return cns.length === 1 ? cns[0] : undefined;
  } catch {
    return undefined;
  }
}
