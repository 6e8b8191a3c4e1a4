import { constants, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { children, oidOf, readTlv, integerOf } from '../der/reader.js';
import type { CertInfo } from './parse.js';
import { namesEqual } from '../der/name.js';

const HASH: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.4': 'sha224', '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** Signature algorithm OID → hash (null: the algorithm hashes itself, as EdDSA). */
const SIG: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1', '1.2.840.113549.1.1.14': 'sha224', '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1', '1.2.840.10045.4.3.1': 'sha224', '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', '2.16.840.1.101.3.4.3.1': 'sha224', '2.16.840.1.101.3.4.3.2': 'sha256',
  '1.3.101.112': null, '1.3.101.113': null,
};
const RSA_PSS = '1.2.840.113549.1.1.10';

/**
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, maskGenAlgorithm [1] DEFAULT mgf1SHA1,
 *   saltLength [2] INTEGER DEFAULT 20, trailerField [3] DEFAULT 1 }       -- RFC 4055 section 3.1
 */
function pssParams(params: Uint8Array | undefined): { hash: string; saltLength: number } | undefined {
  let hash = 'sha1';
  let saltLength = 20;
  if (!params) return { hash, saltLength };
  const seq = readTlv(params, 0, params.length);
  for (const f of children(params, seq)) {
    const inner = readTlv(params, f.start, f.end);
    if (f.tag === 0xa0) hash = HASH[oidOf(params, children(params, inner)[0]!)] ?? '';
    if (f.tag === 0xa2) saltLength = Number(integerOf(params, inner));
  }
  return hash ? { hash, saltLength } : undefined;
}

/** Verifies a signature: RSA PKCS#1 v1.5, RSA-PSS, ECDSA, EdDSA and DSA; false for anything unknown or wrong. */
export function verifySignature(tbs: Uint8Array, sigAlgOid: string, signature: Uint8Array, key: KeyObject | undefined, params?: Uint8Array): boolean {
  if (!key) return false;
  try {
    if (sigAlgOid === RSA_PSS) {
      const p = pssParams(params);
      if (!p) return false;
      return nodeVerify(p.hash, tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, signature);
    }
    if (!(sigAlgOid in SIG)) return false;
    const type = key.asymmetricKeyType;
    const dsaEncoding = type === 'ec' || type === 'dsa' ? { dsaEncoding: 'der' as const } : {};
    return nodeVerify(SIG[sigAlgOid]!, tbs, { key, ...dsaEncoding }, signature);
  } catch {
    return false;
  }
}

/** `cert` names `issuer` as its issuer and carries a valid signature by its key. */
export function isIssuedBy(cert: CertInfo, issuer: CertInfo): boolean {
  return namesEqual(cert.issuerDer, issuer.subjectDer) && verifySignature(cert.tbs, cert.signatureAlgorithmOid, cert.signatureValue, issuer.publicKey, cert.signatureAlgorithmParams);
}

/** Self-issued: subject and issuer names are the same (RFC 5280 section 6.1). */
export function isSelfIssued(cert: CertInfo): boolean {
  return namesEqual(cert.subjectDer, cert.issuerDer);
}
