import { booleanOf, bytesOf, children, contentOf, integerOf, oidOf, readTlv, timeOf, type Tlv } from '../der/reader.js';
import { nameText } from '../der/name.js';
import { algorithmOf } from '../cert/parse.js';
import { parseDistributionPointName, reasonMask } from '../cert/general-names.js';
import { malformed } from './malformed.js';
import { CRL_EXT_CRITICAL, criticalProblem, profileError } from './profile.js';
import type { IssuingDistributionPoint, ParsedCrl } from './types.js';

/** The CRL extensions this parser reads (RFC 5280 section 5.2). */
const CRL_EXT = { aki: '2.5.29.35', crlNumber: '2.5.29.20', delta: '2.5.29.27', idp: '2.5.29.28' };

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

/** A CRL decoded up to its entries: every field but the entries, and where they are. */
export interface CrlHeader {
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
export function readHeader(der: Uint8Array): CrlHeader {
  const top = readTlv(der, 0, der.length);
  if (top.tag !== 0x30 || top.end !== der.length) malformed('not a single SEQUENCE');
  const tbsT = readTlv(der, top.start, top.end);
  const sigAlgT = readTlv(der, tbsT.end, top.end);
  const sigT = readTlv(der, sigAlgT.end, top.end);
  if (tbsT.tag !== 0x30 || sigAlgT.tag !== 0x30 || sigT.tag !== 0x03 || sigT.end !== top.end) malformed('expected tbsCertList, signatureAlgorithm, signatureValue');
  let p = tbsT.start;
  let t = readTlv(der, p, tbsT.end);
  const v1 = t.tag !== 0x02;
  if (!v1) {
    if (integerOf(der, t) !== 1n) malformed('unsupported CRL version');
    t = readTlv(der, t.end, tbsT.end);
  }
  if (t.tag !== 0x30) malformed('missing signature algorithm');
  const issuerT = readTlv(der, t.end, tbsT.end);
  if (issuerT.tag !== 0x30) malformed('missing issuer');
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
    else malformed(`unexpected field with tag 0x${f.tag.toString(16)} at byte ${f.offset}`);
    p = f.end;
  }
  const alg = algorithmOf(der, sigAlgT);
  const crl: CrlHeader['crl'] = {
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
      if (oid === CRL_EXT.crlNumber) crl.crlNumber = integerOf(der, inner);
      else if (oid === CRL_EXT.delta) crl.deltaCrlIndicator = integerOf(der, inner);
      else if (oid === CRL_EXT.idp) crl.idp = parseIdp(der, inner);
      else if (oid === CRL_EXT.aki) {
        const kid = children(der, inner).find((c) => c.tag === 0x80);
        if (kid) crl.aki = contentOf(der, kid);
      }
    }
  }
  // RFC 5280 5.2.4 (d) orders a delta after its complete CRL by cRLNumber: without one it cannot be combined (OpenSSL: EXFLAG_INVALID).
  if (crl.deltaCrlIndicator !== undefined && crl.crlNumber === undefined) crl.profileError ??= profileError(crl.issuer, 'it is a delta CRL without a cRLNumber (RFC 5280 sections 5.2.3, 5.2.4)');
  return { crl, revoked, v1 };
}
