import { createPublicKey, type KeyObject } from 'node:crypto';
import { RevocationError } from '../errors.js';
import { bitSet, bitStringOf, booleanOf, bytesOf, children, contentOf, integerOf, oidOf, readTlv, timeOf, type Tlv } from '../der/reader.js';
import { nameText } from '../der/name.js';
import { parseGeneralNames, parseDistributionPoints, type DistributionPoint, type GeneralName } from './general-names.js';

export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly';
const KEY_USAGES: KeyUsage[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

/** What the revocation checker needs to know of a certificate. */
export interface CertInfo {
  der: Uint8Array;
  tbs: Uint8Array;
  /** Content octets of the serial INTEGER, as encoded (two's complement, may be negative). */
  serial: Uint8Array;
  /** Lower-case hex of the serial content octets, without a leading 00 pad. */
  serialHex: string;
  subjectDer: Uint8Array;
  issuerDer: Uint8Array;
  subject: string;
  issuer: string;
  /**
   * Undefined when Node cannot build the key (e.g. DSA parameters inherited from the issuer).
   * Built on first use (~100 µs with OpenSSL 3), as most leaf keys are never needed.
   */
  readonly publicKey?: KeyObject;
  spkiDer: Uint8Array;
  /** The subjectPublicKey BIT STRING contents (for OCSP issuerKeyHash). */
  subjectPublicKeyBits: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  pathLen?: number;
  keyUsage?: Set<KeyUsage>;
  extKeyUsage?: string[];
  ski?: Uint8Array;
  aki?: Uint8Array;
  crlDistributionPoints: DistributionPoint[];
  ocspUrls: string[];
  caIssuerUrls: string[];
  hasOcspNoCheck: boolean;
  signatureAlgorithmOid: string;
  /** DER of the signature AlgorithmIdentifier parameters, when present. */
  signatureAlgorithmParams?: Uint8Array;
  signatureValue: Uint8Array;
  /**
   * OIDs of critical extensions a validator must refuse the certificate for (RFC 5280 section
   * 4.2): unknown ones, and known ones the RFC requires to be non-critical and OpenSSL does not
   * handle as critical (authority/subject key identifier, authority information access, issuer
   * alternative name, freshest CRL). See `certificateProfileProblem`.
   */
  unknownCriticalExtensions: string[];
  /** OIDs of extensions present more than once (RFC 5280 section 4.2: "MUST NOT include more than one instance"). */
  duplicateExtensions: string[];
  /** subjectAltName entries (empty without the extension). */
  subjectAltNames: GeneralName[];
  /** The nameConstraints extension of a CA (RFC 5280 section 4.2.1.10), when present. */
  nameConstraints?: NameConstraints;
}

/**
 * NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] GeneralSubtrees OPTIONAL }
 * GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] BaseDistance DEFAULT 0, maximum [1] BaseDistance OPTIONAL }
 * `unsupported` says why the constraints cannot be evaluated (a minimum or maximum, which RFC 5280
 * forbids; a base of a form other than dNSName, rfc822Name, URI, directoryName, iPAddress).
 */
export interface NameConstraints {
  critical: boolean;
  permitted: GeneralName[];
  excluded: GeneralName[];
  unsupported?: string;
}

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  ski: '2.5.29.14',
  aki: '2.5.29.35',
  cdp: '2.5.29.31',
  aia: '1.3.6.1.5.5.7.1.1',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  san: '2.5.29.17',
  nameConstraints: '2.5.29.30',
};
/**
 * Extensions accepted when critical: OpenSSL's X509_supported_extension list (less the Netscape,
 * RFC 3779 and proxy ones), whose processing is the TLS stack's (policies, name constraints) or
 * this reader's. Not here, so refused when critical as by OpenSSL: authorityKeyIdentifier and
 * subjectKeyIdentifier (RFC 5280 4.2.1.1, 4.2.1.2: MUST be non-critical), issuerAltName (4.2.1.7:
 * SHOULD), freshestCRL (4.2.1.15: MUST), authorityInfoAccess (4.2.2.1: MUST).
 */
const CRITICAL_OK = new Set([OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.cdp, OID.ocspNoCheck, '2.5.29.17', '2.5.29.32', '2.5.29.33', '2.5.29.36', '2.5.29.30', '2.5.29.54']);

/**
 * Why a certificate must not be relied on by its extensions alone (RFC 5280 section 4.2), or
 * undefined: a critical extension not handled, or an extension twice.
 */
export function certificateProfileProblem(c: CertInfo): string | undefined {
  if (c.unknownCriticalExtensions.length) return `${c.subject} has unhandled critical extensions ${c.unknownCriticalExtensions.join(', ')}`;
  if (c.duplicateExtensions.length) return `${c.subject} has extensions more than once: ${c.duplicateExtensions.join(', ')}`;
  return undefined;
}

function pemToDer(text: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new RevocationError('ERR_REVOCATION_MALFORMED_CERT', 'no PEM CERTIFICATE block');
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } */
export function algorithmOf(b: Uint8Array, t: Tlv): { oid: string; params?: Uint8Array } {
  const [alg, params] = children(b, t);
  return { oid: oidOf(b, alg!), params: params && params.tag !== 0x05 ? bytesOf(b, params) : undefined };
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, serialNumber INTEGER, signature AlgorithmIdentifier,
 *   issuer Name, validity SEQUENCE { notBefore Time, notAfter Time }, subject Name,
 *   subjectPublicKeyInfo SEQUENCE { algorithm, subjectPublicKey BIT STRING },
 *   issuerUniqueID [1] IMPLICIT OPTIONAL, subjectUniqueID [2] IMPLICIT OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
 *                                                                         -- RFC 5280 section 4.1
 */
export function parseCertificate(input: Uint8Array | string): CertInfo {
  const der = typeof input === 'string' ? pemToDer(input) : input[0] === 0x2d ? pemToDer(Buffer.from(input).toString('latin1')) : input;
  try {
    return parse(der);
  } catch (err) {
    if (err instanceof RevocationError) throw new RevocationError('ERR_REVOCATION_MALFORMED_CERT', `not a valid certificate: ${err.message}`);
    throw new RevocationError('ERR_REVOCATION_MALFORMED_CERT', `not a valid certificate: ${(err as Error).message}`);
  }
}

function parse(der: Uint8Array): CertInfo {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw new Error('not a single SEQUENCE');
  const [tbsT, sigAlgT, sigT] = children(der, cert);
  if (!tbsT || !sigAlgT || !sigT) throw new Error('missing fields');
  const f = children(der, tbsT);
  let i = f[0]?.tag === 0xa0 ? 1 : 0;
  const serialT = f[i++]!;
  i++; // inner signature algorithm
  const issuerT = f[i++]!;
  const validityT = f[i++]!;
  const subjectT = f[i++]!;
  const spkiT = f[i++]!;
  if (!spkiT || serialT.tag !== 0x02 || issuerT.tag !== 0x30 || subjectT.tag !== 0x30 || validityT.tag !== 0x30) throw new Error('TBSCertificate fields out of order');
  integerOf(der, serialT);
  const [nb, na] = children(der, validityT);
  const spkiChildren = children(der, spkiT);
  const { bits: subjectPublicKeyBits } = bitStringOf(der, spkiChildren[1]!);
  const spkiDer = bytesOf(der, spkiT);
  const serial = contentOf(der, serialT);
  const info: CertInfo = {
    der,
    tbs: bytesOf(der, tbsT),
    serial,
    serialHex: Buffer.from(serial).toString('hex').replace(/^00(?=[89a-f])/, '') || '00',
    subjectDer: bytesOf(der, subjectT),
    issuerDer: bytesOf(der, issuerT),
    subject: nameText(der, subjectT),
    issuer: nameText(der, issuerT),
    spkiDer,
    subjectPublicKeyBits,
    notBefore: timeOf(der, nb!),
    notAfter: timeOf(der, na!),
    isCA: false,
    crlDistributionPoints: [],
    ocspUrls: [],
    caIssuerUrls: [],
    hasOcspNoCheck: false,
    ...(() => {
      const a = algorithmOf(der, sigAlgT);
      return { signatureAlgorithmOid: a.oid, signatureAlgorithmParams: a.params };
    })(),
    signatureValue: bitStringOf(der, sigT).bits,
    unknownCriticalExtensions: [],
    duplicateExtensions: [],
    subjectAltNames: [],
  };
  let key: KeyObject | undefined | null = null;
  Object.defineProperty(info, 'publicKey', {
    enumerable: true,
    get(): KeyObject | undefined {
      if (key === null) {
        try {
          key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
        } catch {
          key = undefined;
        }
      }
      return key;
    },
  });
  const extsT = f.slice(i).find((t) => t.tag === 0xa3);
  if (extsT) {
    const list = children(der, extsT)[0];
    if (!list) throw new Error('empty extensions');
    const seen = new Set<string>();
    for (const ext of children(der, list)) {
      const oid = readExtension(der, ext, info);
      if (seen.has(oid) && !info.duplicateExtensions.includes(oid)) info.duplicateExtensions.push(oid);
      seen.add(oid);
    }
  }
  return info;
}

/** Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function readExtension(der: Uint8Array, ext: Tlv, info: CertInfo): string {
  const parts = children(der, ext);
  const oid = oidOf(der, parts[0]!);
  const critical = parts.length === 3 ? booleanOf(der, parts[1]!) : false;
  const valueT = parts[parts.length - 1]!;
  const v = readTlv(der, valueT.start, valueT.end);
  if (critical && !CRITICAL_OK.has(oid)) info.unknownCriticalExtensions.push(oid);
  switch (oid) {
    case OID.basicConstraints: {
      // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
      for (const c of children(der, v)) {
        if (c.tag === 0x01) info.isCA = booleanOf(der, c);
        if (c.tag === 0x02) info.pathLen = Number(integerOf(der, c));
      }
      break;
    }
    case OID.keyUsage: {
      const { bits } = bitStringOf(der, v);
      info.keyUsage = new Set(KEY_USAGES.filter((_, n) => bitSet(bits, n)));
      break;
    }
    case OID.extKeyUsage:
      info.extKeyUsage = children(der, v).map((c) => oidOf(der, c));
      break;
    case OID.ski:
      info.ski = contentOf(der, v);
      break;
    case OID.aki: {
      // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... }
      const kid = children(der, v).find((c) => c.tag === 0x80);
      if (kid) info.aki = contentOf(der, kid);
      break;
    }
    case OID.cdp:
      info.crlDistributionPoints = parseDistributionPoints(der, v);
      break;
    case OID.aia: {
      // AuthorityInfoAccessSyntax ::= SEQUENCE OF AccessDescription { accessMethod OID, accessLocation GeneralName }
      for (const ad of children(der, v)) {
        const [m, loc] = children(der, ad);
        const method = oidOf(der, m!);
        const names: GeneralName[] = parseGeneralNames(der, [loc!]);
        const urls = names.filter((n) => n.type === 'uri').map((n) => n.value);
        if (method === OID.ocsp) info.ocspUrls.push(...urls);
        if (method === OID.caIssuers) info.caIssuerUrls.push(...urls);
      }
      break;
    }
    case OID.ocspNoCheck:
      info.hasOcspNoCheck = true;
      break;
    case OID.san:
      info.subjectAltNames = parseGeneralNames(der, children(der, v));
      break;
    case OID.nameConstraints: {
      const nc: NameConstraints = { critical, permitted: [], excluded: [] };
      for (const part of children(der, v)) {
        if (part.tag !== 0xa0 && part.tag !== 0xa1) continue;
        for (const subtree of children(der, part)) {
          const [base, ...distance] = children(der, subtree);
          const name = parseGeneralNames(der, [base!])[0]!;
          if (distance.length) nc.unsupported = 'a minimum or maximum BaseDistance';
          else if (name.type === 'other') nc.unsupported = `a subtree of a name form not evaluated (${name.value.slice(0, 2)})`;
          (part.tag === 0xa0 ? nc.permitted : nc.excluded).push(name);
        }
      }
      info.nameConstraints = nc;
      break;
    }
  }
  return oid;
}
