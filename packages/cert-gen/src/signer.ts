import 'reflect-metadata';
import { createHash, createPrivateKey, sign, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { NULL, oid, seq } from './der/write.js';
import { children, read, whole } from './der/read.js';
import { keyTypeOf } from './keys.js';
import type { KeyAndCert } from './certificate.js';
import { CertGenError } from './errors.js';

/** Everything needed to sign on behalf of a CA: its key, its name, its key identifier. */
export interface Signer {
  key: KeyObject;
  cert: NodeX509;
  /** The certificate's subject Name, DER (the issuer of what it signs). */
  subjectDer: Buffer;
  /** subjectKeyIdentifier, or SHA-1 of the public key when the certificate has none. */
  keyId: Buffer;
  /** The subjectPublicKey BIT STRING contents (for OCSP issuerKeyHash). */
  publicKeyBits: Buffer;
  /** AlgorithmIdentifier DER for signatures by this key. */
  algorithm: Buffer;
  sign(data: Uint8Array): Buffer;
}

/**
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT, serialNumber, signature, issuer,
 *   validity, subject Name, subjectPublicKeyInfo SEQUENCE { algorithm, subjectPublicKey BIT STRING }, ... }
 */
function subjectAndKey(der: Uint8Array): { subject: Buffer; bits: Buffer } {
  const cert = read(der, 0);
  const tbs = read(der, cert.start, cert.end);
  const fields = children(der, tbs);
  const i = fields[0]!.tag === 0xa0 ? 1 : 0;
  const subject = fields[i + 4]!;
  const spki = fields[i + 5]!;
  const bitString = children(der, spki)[1]!;
  return { subject: Buffer.from(whole(der, subject)), bits: Buffer.from(der.subarray(bitString.start + 1, bitString.end)) };
}

export function createSigner(ca: Pick<KeyAndCert, 'certificatePem' | 'privateKeyPem'>): Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey(ca.privateKeyPem);
  } catch (err) {
    throw new CertGenError('ERR_CERTGEN_KEY', `the CA private key cannot be read (${(err as Error).message})`);
  }
  const cert = new NodeX509(ca.certificatePem);
  if (!cert.checkPrivateKey(key)) throw new CertGenError('ERR_CERTGEN_KEY', 'the CA private key does not match the CA certificate');
  const { subject, bits } = subjectAndKey(new Uint8Array(cert.raw));
  const ski = new x509.X509Certificate(cert.raw).getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski ? Buffer.from(ski.keyId, 'hex') : createHash('sha1').update(bits).digest();
  const type = keyTypeOf(key);
  const [algorithm, hash, opts] =
    type === 'ec-p256'
      ? [seq(oid('1.2.840.10045.4.3.2')), 'sha256', { dsaEncoding: 'der' as const }]
      : type === 'ec-p384'
        ? [seq(oid('1.2.840.10045.4.3.3')), 'sha384', { dsaEncoding: 'der' as const }]
        : type === 'ed25519'
          ? [seq(oid('1.3.101.112')), null, {}]
          : [seq(oid('1.2.840.113549.1.1.11'), NULL), 'sha256', {}];
  return {
    key,
    cert,
    subjectDer: subject,
    keyId,
    publicKeyBits: bits,
    algorithm,
    sign: (data) => sign(hash, data, { key, ...opts }),
  };
}

