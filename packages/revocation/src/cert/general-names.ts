import { bitStringOf, bytesOf, children, contentOf, readTlv, type Tlv } from '../der/reader.js';
import { nameText } from '../der/name.js';

/** GeneralName, the forms revocation checking uses (RFC 5280 section 4.2.1.6). */
export type GeneralName =
  | { type: 'uri'; value: string }
  | { type: 'dn'; der: Uint8Array; text: string }
  | { type: 'dns' | 'email' | 'ip' | 'other'; value: string };

/** DistributionPoint, with `reasons` as a bit mask (bit n = ReasonFlags bit n; see reasons.ts). */
export interface DistributionPoint {
  fullNames: GeneralName[];
  /** RelativeDistinguishedName (DER of the SET) to append to the CRL issuer's name. */
  nameRelativeToCrlIssuer?: Uint8Array;
  reasons?: number;
  crlIssuer?: GeneralName[];
}

/**
 * GeneralName ::= CHOICE { otherName [0], rfc822Name [1] IA5String, dNSName [2] IA5String,
 *   x400Address [3], directoryName [4] Name (EXPLICIT, since Name is a CHOICE), ediPartyName [5],
 *   uniformResourceIdentifier [6] IA5String, iPAddress [7] OCTET STRING, registeredID [8] }
 */
export function parseGeneralNames(b: Uint8Array, items: Tlv[]): GeneralName[] {
  return items.map((t): GeneralName => {
    const text = () => Buffer.from(contentOf(b, t)).toString('latin1');
    switch (t.tag) {
      case 0x86:
        return { type: 'uri', value: text() };
      case 0xa4: {
        const name = readTlv(b, t.start, t.end);
        return { type: 'dn', der: bytesOf(b, name), text: nameText(b, name) };
      }
      case 0x82:
        return { type: 'dns', value: text() };
      case 0x81:
        return { type: 'email', value: text() };
      case 0x87:
        return { type: 'ip', value: Buffer.from(contentOf(b, t)).toString('hex') };
      default:
        return { type: 'other', value: Buffer.from(bytesOf(b, t)).toString('hex') };
    }
  });
}

/** ReasonFlags BIT STRING → mask with bit n set for named bit n. */
export function reasonMask(b: Uint8Array, t: Tlv): number {
  const { bits } = bitStringOf(b, t);
  let mask = 0;
  for (let n = 0; n < 9; n++) {
    const byte = bits[n >> 3];
    if (byte !== undefined && byte & (0x80 >> (n & 7))) mask |= 1 << n;
  }
  return mask;
}

/**
 * DistributionPointName ::= CHOICE { fullName [0] IMPLICIT GeneralNames, nameRelativeToCRLIssuer [1] IMPLICIT RDN }
 * Returns the full names, or the RDN to append.
 */
export function parseDistributionPointName(b: Uint8Array, dpn: Tlv): { fullNames: GeneralName[]; rdn?: Uint8Array } {
  const choice = readTlv(b, dpn.start, dpn.end);
  if (choice.tag === 0xa0) return { fullNames: parseGeneralNames(b, children(b, choice)) };
  if (choice.tag === 0xa1) return { fullNames: [], rdn: Uint8Array.from([0x31, ...lengthOf(choice.end - choice.start), ...contentOf(b, choice)]) };
  return { fullNames: [] };
}

function lengthOf(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v >>= 8) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/**
 * CRLDistributionPoints ::= SEQUENCE OF DistributionPoint
 * DistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
 *   reasons [1] IMPLICIT ReasonFlags OPTIONAL, cRLIssuer [2] IMPLICIT GeneralNames OPTIONAL }
 */
export function parseDistributionPoints(b: Uint8Array, seq: Tlv): DistributionPoint[] {
  return children(b, seq).map((dp) => {
    const out: DistributionPoint = { fullNames: [] };
    for (const f of children(b, dp)) {
      if (f.tag === 0xa0) {
        const n = parseDistributionPointName(b, f);
        out.fullNames = n.fullNames;
        if (n.rdn) out.nameRelativeToCrlIssuer = n.rdn;
      } else if (f.tag === 0x81) out.reasons = reasonMask(b, { ...f, tag: 0x03 });
      else if (f.tag === 0xa2) out.crlIssuer = parseGeneralNames(b, children(b, f));
    }
    return out;
  });
}
