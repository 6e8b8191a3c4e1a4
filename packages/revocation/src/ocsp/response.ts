import { RevocationError } from '../errors.js';
import { bytesOf, children, contentOf, integerOf, oidOf, readTlv, timeOf, bitStringOf, type Tlv } from '../der/reader.js';
import { namesEqual } from '../der/name.js';
import { algorithmOf, certificateProfileProblem, parseCertificate, type CertInfo } from '../cert/parse.js';
import { isIssuedBy, verifySignature } from '../cert/verify.js';
import { createHash } from 'node:crypto';
import { HASH_OIDS, ID_PKIX_OCSP_NONCE, type CertId } from './request.js';
import { REASON_NAMES } from '../crl/evaluate.js';

const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const STATUS_NAMES = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(4)', 'sigRequired', 'unauthorized'];
/** Clock skew tolerated on thisUpdate and nextUpdate, ms. */
export const OCSP_CLOCK_SKEW_MS = 5 * 60_000;
/**
 * Oldest thisUpdate accepted, by default, in a response without nextUpdate, ms (the default
 * `ocsp.cacheTtl`). Such a response says newer information is always available (RFC 6960 section
 * 4.2.2.1); without a nonce echo, an old one could be a replay of a signed "good" from before a
 * revocation.
 */
export const OCSP_MAX_AGE_WITHOUT_NEXT_UPDATE_MS = 3_600_000;

interface SingleResponse {
  hashOid: string;
  nameHash: Uint8Array;
  keyHash: Uint8Array;
  serial: Uint8Array;
  status: 'good' | 'revoked' | 'unknown';
  revokedAt?: Date;
  reasonCode?: number;
  thisUpdate: Date;
  nextUpdate?: Date;
}

export interface OcspAnswer {
  status: 'good' | 'revoked' | 'unknown';
  reason?: string;
  revokedAt?: Date;
  thisUpdate: Date;
  nextUpdate?: Date;
}

/** Why a response was refused: `unavailable` (the responder could not answer) or `invalid` (it must never be trusted). */
export class OcspFailure extends RevocationError {
  constructor(
    readonly kind: 'unavailable' | 'invalid',
    message: string,
    /**
     * Why, when a retry may help: the unsuccessful responseStatus (`malformedRequest`,
     * `unauthorized`, `tryLater`, ...) or `no-matching-response` (a signed response about other
     * certificates only).
     */
    readonly detail?: string,
  ) {
    super(kind === 'invalid' ? 'ERR_REVOCATION_OCSP_INVALID' : 'ERR_REVOCATION_OCSP_UNAVAILABLE', message);
  }
}

const invalid = (m: string, detail?: string): never => {
  throw new OcspFailure('invalid', m, detail);
};

/** Hash algorithms a response's CertID may use, by OID (RFC 6960 section 4.1.1 leaves it open). */
const CERT_ID_HASHES: Record<string, string> = { '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };

/**
 * OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 * ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
 * BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm, signature BIT STRING,
 *   certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 * ResponseData ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, responderID ResponderID, producedAt GeneralizedTime,
 *   responses SEQUENCE OF SingleResponse, responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 * ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }
 * SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
 *   nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL }
 * CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }
 * RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 *                                                                            -- RFC 6960 section 4.2.1
 */
export interface BasicResponse {
  responseStatus: 0;
  statusName: 'successful';
  tbs: Uint8Array;
  alg: { oid: string; params?: Uint8Array };
  signature: Uint8Array;
  responderId: { byName?: Uint8Array; byKey?: Uint8Array };
  producedAt: Date;
  responses: SingleResponse[];
  nonce?: Uint8Array;
  certs: CertInfo[];
}
export type ParsedOcspResponse = { responseStatus: number; statusName: string; tbs?: undefined } | BasicResponse;

export function parseOcspResponse(der: Uint8Array): ParsedOcspResponse {
  try {
    const top = readTlv(der, 0, der.length);
    if (top.tag !== 0x30 || top.end !== der.length) throw new Error('not a single SEQUENCE');
    const [statusT, bytesT] = children(der, top);
    if (!statusT || statusT.tag !== 0x0a) throw new Error('no responseStatus');
    const responseStatus = Number(integerOf(der, { ...statusT, tag: 0x02 }));
    if (responseStatus !== 0) return { responseStatus, statusName: STATUS_NAMES[responseStatus] ?? String(responseStatus) };
    if (!bytesT || bytesT.tag !== 0xa0) throw new Error('successful response without responseBytes');
    const rb = readTlv(der, bytesT.start, bytesT.end);
    const [typeT, octT] = children(der, rb);
    if (oidOf(der, typeT!) !== ID_PKIX_OCSP_BASIC) throw new Error('not a basic OCSP response');
    const basicT = readTlv(der, octT!.start, octT!.end);
    const [tbsT, algT, sigT, certsT] = children(der, basicT);
    const fields = children(der, tbsT!);
    let i = fields[0]!.tag === 0xa0 ? 1 : 0;
    const ridT = fields[i++]!;
    const producedAt = timeOf(der, fields[i++]!);
    const responsesT = fields[i++]!;
    const extsT = fields[i]?.tag === 0xa1 ? fields[i] : undefined;
    const rid = readTlv(der, ridT.start, ridT.end);
    const responderId = ridT.tag === 0xa1 ? { byName: bytesOf(der, rid) } : ridT.tag === 0xa2 ? { byKey: contentOf(der, rid) } : invalid('unknown responderID');
    const responses: SingleResponse[] = children(der, responsesT).map((sr) => single(der, sr));
    let nonce: Uint8Array | undefined;
    if (extsT) {
      for (const ext of children(der, readTlv(der, extsT.start, extsT.end))) {
        const parts = children(der, ext);
        if (oidOf(der, parts[0]!) === ID_PKIX_OCSP_NONCE) nonce = contentOf(der, parts[parts.length - 1]!);
      }
    }
    const alg = algorithmOf(der, algT!);
    const certs: CertInfo[] = certsT ? children(der, readTlv(der, certsT.start, certsT.end)).map((c) => parseCertificate(bytesOf(der, c))) : [];
    return { responseStatus: 0, statusName: 'successful', tbs: bytesOf(der, tbsT!), alg, signature: bitStringOf(der, sigT!).bits, responderId, producedAt, responses, nonce, certs };
  } catch (err) {
    if (err instanceof OcspFailure) throw err;
    throw new OcspFailure('unavailable', `the OCSP response is malformed: ${(err as Error).message}`);
  }
}

function single(der: Uint8Array, sr: Tlv): SingleResponse {
  const [idT, statusT, thisT, ...rest] = children(der, sr);
  const [algT, nameT, keyT, serialT] = children(der, idT!);
  const out: SingleResponse = {
    hashOid: oidOf(der, children(der, algT!)[0]!),
    nameHash: contentOf(der, nameT!),
    keyHash: contentOf(der, keyT!),
    serial: contentOf(der, serialT!),
    status: statusT!.tag === 0x80 ? 'good' : statusT!.tag === 0xa1 ? 'revoked' : statusT!.tag === 0x82 ? 'unknown' : invalid('unknown certStatus'),
    thisUpdate: timeOf(der, thisT!),
  };
  if (out.status === 'revoked') {
    const [timeT, reasonT] = children(der, statusT!);
    out.revokedAt = timeOf(der, timeT!);
    if (reasonT?.tag === 0xa0) out.reasonCode = Number(integerOf(der, { ...readTlv(der, reasonT.start, reasonT.end), tag: 0x02 }));
  }
  const next = rest.find((t) => t.tag === 0xa0);
  if (next) out.nextUpdate = timeOf(der, readTlv(der, next.start, next.end));
  return out;
}

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * A SingleResponse is about our certificate when its serial is ours and its issuer hashes match
 * the issuer recomputed with the hash algorithm the response uses (a responder may answer a SHA-1
 * CertID with a SHA-256 one, or the other way round).
 */
function matchesCertId(s: SingleResponse, id: CertId, issuer: CertInfo): boolean {
  if (!eq(s.serial, id.serial)) return false;
  if (s.hashOid === HASH_OIDS[id.hash]) return eq(s.nameHash, id.nameHash) && eq(s.keyHash, id.keyHash);
  const alg = CERT_ID_HASHES[s.hashOid];
  if (!alg) return false;
  return eq(s.nameHash, createHash(alg).update(issuer.subjectDer).digest()) && eq(s.keyHash, createHash(alg).update(issuer.subjectPublicKeyBits).digest());
}

/**
 * Verifies a response for `certId` and returns its answer. Refused (`invalid`): a signature that
 * does not verify, a signer that is neither the issuer nor a delegated responder it certified
 * with id-kp-OCSPSigning (and no unhandled critical or duplicate extension), no SingleResponse for this certificate (its CertID recomputed with the
 * hash algorithm the response uses), a wrong nonce, stale or future
 * dates (without nextUpdate: a thisUpdate older than `maxAgeMs`, default
 * OCSP_MAX_AGE_WITHOUT_NEXT_UPDATE_MS, plus the clock skew). Refused (`unavailable`): an
 * unsuccessful responseStatus or a malformed response.
 */
export function verifyOcspResponse(der: Uint8Array, ctx: { certId: CertId; issuer: CertInfo; nonce?: Uint8Array; at: Date; maxAgeMs?: number }): OcspAnswer {
  const r = parseOcspResponse(der);
  if (r.tbs === undefined) throw new OcspFailure('unavailable', `the OCSP responder answered ${r.statusName}`, r.statusName);
  const { issuer, at } = ctx;
  const keyHashOf = (c: CertInfo) => createHash('sha1').update(c.subjectPublicKeyBits).digest();
  const matchesId = (c: CertInfo) => ('byKey' in r.responderId ? eq(r.responderId.byKey!, keyHashOf(c)) : namesEqual(r.responderId.byName!, c.subjectDer));
  let signer: CertInfo | undefined;
  if (matchesId(issuer)) signer = issuer;
  else {
    signer = r.certs.find((c) => matchesId(c));
    if (!signer) invalid('the OCSP response is signed by a responder that is neither the issuer nor a certificate included in the response');
    if (!isIssuedBy(signer!, issuer)) invalid(`the OCSP responder certificate ${signer!.subject} is not issued by ${issuer.subject}`);
    if (!signer!.extKeyUsage?.includes(OCSP_SIGNING)) invalid(`the OCSP responder certificate ${signer!.subject} lacks the OCSPSigning extended key usage`);
    if (at < signer!.notBefore || at > signer!.notAfter) invalid(`the OCSP responder certificate ${signer!.subject} is not valid now`);
    const profile = certificateProfileProblem(signer!);
    if (profile) invalid(`the OCSP responder certificate ${profile}`);
  }
  if (!verifySignature(r.tbs, r.alg.oid, r.signature, signer!.publicKey, r.alg.params)) invalid('the OCSP response signature does not verify');
  const mine = r.responses.find((s) => matchesCertId(s, ctx.certId, issuer));
  if (!mine) invalid('the OCSP response is about another certificate', 'no-matching-response');
  if (ctx.nonce && r.nonce) {
    // RFC 8954: extnValue holds OCTET STRING { nonce }; accept the bare form some responders send.
    const inner = r.nonce[0] === 0x04 ? contentOf(r.nonce, readTlv(r.nonce, 0, r.nonce.length)) : r.nonce;
    if (!eq(inner, ctx.nonce)) invalid('the OCSP response nonce does not match the request');
  }
  if (mine!.thisUpdate.getTime() > at.getTime() + OCSP_CLOCK_SKEW_MS) invalid('the OCSP response thisUpdate is in the future');
  if (mine!.nextUpdate && mine!.nextUpdate.getTime() < at.getTime() - OCSP_CLOCK_SKEW_MS) invalid('the OCSP response is stale (nextUpdate has passed)');
  const maxAgeMs = ctx.maxAgeMs ?? OCSP_MAX_AGE_WITHOUT_NEXT_UPDATE_MS;
  if (!mine!.nextUpdate && mine!.thisUpdate.getTime() < at.getTime() - maxAgeMs - OCSP_CLOCK_SKEW_MS) {
    invalid(`the OCSP response is stale (no nextUpdate, and thisUpdate ${mine!.thisUpdate.toISOString()} is older than ${maxAgeMs} ms)`);
  }
  return {
    status: mine!.status,
    reason: mine!.status === 'revoked' ? (REASON_NAMES[mine!.reasonCode ?? 0] ?? `reason ${mine!.reasonCode}`) : undefined,
    revokedAt: mine!.revokedAt,
    thisUpdate: mine!.thisUpdate,
    nextUpdate: mine!.nextUpdate,
  };
}
