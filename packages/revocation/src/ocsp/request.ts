import { createHash, randomBytes } from 'node:crypto';
import type { CertInfo } from '../cert/parse.js';
import { NULL, octets, oid, seq, tlv } from '../der/writer.js';

export const HASH_OIDS = { sha1: '1.3.14.3.2.26', sha256: '2.16.840.1.101.3.4.2.1' } as const;
export type CertIdHash = keyof typeof HASH_OIDS;
export const ID_PKIX_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';

/** CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash OCTET STRING, issuerKeyHash OCTET STRING, serialNumber INTEGER } */
export interface CertId {
  hash: CertIdHash;
  nameHash: Uint8Array;
  keyHash: Uint8Array;
  serial: Uint8Array;
}

export function certIdFor(cert: CertInfo, issuer: CertInfo, hash: CertIdHash = 'sha1'): CertId {
  return {
    hash,
    nameHash: createHash(hash).update(issuer.subjectDer).digest(),
    keyHash: createHash(hash).update(issuer.subjectPublicKeyBits).digest(),
    serial: cert.serial,
  };
}

export function certIdKey(id: CertId): string {
  return `${id.hash}:${Buffer.from(id.nameHash).toString('hex')}:${Buffer.from(id.keyHash).toString('hex')}:${Buffer.from(id.serial).toString('hex')}`;
}

/**
 * OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest }
 * TBSRequest ::= SEQUENCE { requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 * Request ::= SEQUENCE { reqCert CertID }                                   -- RFC 6960 section 4.1.1
 * The nonce (RFC 8954) is 32 random bytes: extnValue OCTET STRING { OCTET STRING nonce }.
 */
export function buildOcspRequest(id: CertId, opts: { nonce?: boolean } = {}): { der: Uint8Array; nonce?: Uint8Array } {
  const certId = seq(seq(oid(HASH_OIDS[id.hash]), NULL), octets(id.nameHash), octets(id.keyHash), tlv(0x02, id.serial));
  const nonce = opts.nonce === false ? undefined : randomBytes(32);
  const exts = nonce ? [tlv(0xa2, seq(seq(oid(ID_PKIX_OCSP_NONCE), octets(octets(nonce)))))] : [];
  return { der: new Uint8Array(seq(seq(seq(seq(certId)), ...exts))), nonce };
}

/** RFC 5019 section 5 / RFC 6960 appendix A.1: below this many bytes a request goes by GET. */
export const OCSP_GET_LIMIT = 255;

/**
 * The GET URL for a request, `<responder URL>/<url-encoded base64 of the DER request>`, when that
 * encoding is under {@link OCSP_GET_LIMIT} bytes (so that HTTP caches can keep the answer);
 * undefined when the request has to be POSTed (too long, or a responder URL with a query).
 * A trailing slash of the responder URL is not doubled.
 */
export function ocspGetUrl(responderUrl: string, der: Uint8Array): string | undefined {
  const encoded = encodeURIComponent(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64'));
  if (encoded.length >= OCSP_GET_LIMIT) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(responderUrl);
  } catch {
    return undefined;
  }
  if (parsed.search || parsed.hash) return undefined;
  return `${responderUrl.replace(/\/+$/, '')}/${encoded}`;
}
