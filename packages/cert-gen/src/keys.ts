import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import { CertGenError, invalid } from './errors.js';
import { derToPem } from './pem.js';

/** Key algorithms. ECDSA P-256 is the default: small, fast, and accepted everywhere. */
export type KeyType = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096'];
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256';

/** Node's WebCrypto, typed as the DOM `Crypto` that @peculiar/x509 expects. */
export const defaultCrypto: Crypto = webcrypto as unknown as Crypto;

/** WebCrypto parameters to generate/import a key and to sign with it. */
export function algorithms(keyType: KeyType): { generate: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm; import: EcKeyImportParams | RsaHashedImportParams | Algorithm; sign: Algorithm & Record<string, unknown> } {
  switch (keyType) {
    case 'ec-p256':
      return { generate: { name: 'ECDSA', namedCurve: 'P-256' }, import: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'ec-p384':
      return { generate: { name: 'ECDSA', namedCurve: 'P-384' }, import: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } };
    case 'ed25519':
      return { generate: { name: 'Ed25519' }, import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096': {
      const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
      return { generate: { ...rsa, modulusLength: Number(keyType.slice(4)), publicExponent: new Uint8Array([1, 0, 1]) }, import: rsa, sign: rsa };
    }
    default:
      return invalid(`unknown key type "${String(keyType)}"; use one of ${KEY_TYPES.join(', ')}`);
  }
}

export function checkKeyType(keyType: unknown): KeyType {
  if (typeof keyType !== 'string' || !(KEY_TYPES as readonly string[]).includes(keyType)) invalid(`unknown key type "${String(keyType)}"; use one of ${KEY_TYPES.join(', ')}`);
  return keyType as KeyType;
}

export async function generateKeyPair(keyType: KeyType = DEFAULT_KEY_TYPE, crypto: Crypto = defaultCrypto): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(algorithms(checkKeyType(keyType)).generate as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function exportPrivateKeyPem(key: CryptoKey, crypto: Crypto = defaultCrypto): Promise<string> {
  return derToPem(new Uint8Array(await crypto.subtle.exportKey('pkcs8', key)), 'PRIVATE KEY');
}

/** The key type of a PEM private key (PKCS#8, SEC1 or PKCS#1). */
export function keyTypeOf(key: KeyObject): KeyType {
  const t = key.asymmetricKeyType;
  if (t === 'ed25519') return 'ed25519';
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ec-p256';
    if (curve === 'secp384r1') return 'ec-p384';
    throw new CertGenError('ERR_CERTGEN_KEY', `EC curve ${curve} is not supported; use P-256 or P-384`);
  }
  if (t === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits >= 4096 ? 'rsa-4096' : bits >= 3072 ? 'rsa-3072' : 'rsa-2048';
  }
  throw new CertGenError('ERR_CERTGEN_KEY', `key type ${t} is not supported; use EC P-256/P-384, Ed25519 or RSA`);
}

/** Imports a PEM private key for signing, with the signature algorithm that fits it. */
export async function importSigningKey(pem: string, crypto: Crypto = defaultCrypto): Promise<{ key: CryptoKey; keyType: KeyType; signingAlgorithm: Algorithm & Record<string, unknown>; keyObject: KeyObject }> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new CertGenError('ERR_CERTGEN_KEY', `the private key cannot be read (${(err as Error).message})`);
  }
  const keyType = keyTypeOf(keyObject);
  const alg = algorithms(keyType);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, alg.import, true, ['sign']);
  return { key, keyType, signingAlgorithm: alg.sign, keyObject };
}
