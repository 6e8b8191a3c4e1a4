/**
 * The private keys of run-time certificates in a cluster (SPEC.md section 10): every node serves
 * a certificate added on any node, so the shared record carries its key, but only sealed
 * (AES-256-GCM) under a key derived from the local CA's private key, which every node holds as a
 * file and the engine never sees. The record's name is the additional authenticated data: a
 * sealed key copied into another record does not open there.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, hkdfSync, randomBytes } from 'node:crypto';
import { ServerError } from '../errors.js';

/** Seals and opens the private key of the run-time certificate `name`. */
export interface KeySealer {
  seal(name: string, privateKeyPem: string): string;
  /** Throws ERR_SERVER_CERTIFICATE when `sealed` was not sealed for `name` under this key (wrong CA, tampered). */
  open(name: string, sealed: string): string;
}

const FORMAT = 'aes-256-gcm.v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The sealing key: HKDF-SHA256 over the CA key's PKCS#8 DER, its own info string (never the token secret's). */
export function clusterKeySealingKey(caPrivateKeyPem: string): Buffer {
  const der = createPrivateKey(caPrivateKeyPem).export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(hkdfSync('sha256', der, 'harper-tls cluster', 'run-time certificate private keys', 32));
}

const aad = (name: string) => Buffer.from(`harper-tls run-time certificate\0${name}`, 'utf8');

/** A sealer under `key` (32 bytes). Sealed form: `aes-256-gcm.v1:<iv>:<tag>:<ciphertext>` (base64). */
export function keySealer(key: Uint8Array): KeySealer {
  if (key.byteLength !== 32) throw new ServerError('ERR_SERVER_CERTIFICATE', 'the key sealing key must be 32 bytes');
  const k = Buffer.from(key);
  return {
    seal(name, pem) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', k, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(name));
      const ct = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
      return [FORMAT, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
    },
    open(name, sealed) {
      const parts = typeof sealed === 'string' ? sealed.split(':') : [];
      const refuse = (why: string): never => {
        throw new ServerError('ERR_SERVER_CERTIFICATE', `the shared private key of run-time certificate "${name}" cannot be opened: ${why}`);
      };
      if (parts.length !== 4 || parts[0] !== FORMAT) refuse(`not in the ${FORMAT} format`);
      const [, ivB64, tagB64, ctB64] = parts as [string, string, string, string];
      const iv = Buffer.from(ivB64, 'base64');
      const tag = Buffer.from(tagB64, 'base64');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) refuse('malformed nonce or tag');
      try {
        const decipher = createDecipheriv('aes-256-gcm', k, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(name));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(ctB64, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        return refuse('authentication failed (sealed under another local CA, or altered)');
      }
    },
  };
}

/** The cluster's sealer, from the local CA's private key. */
export function clusterKeySealer(caPrivateKeyPem: string): KeySealer {
  return keySealer(clusterKeySealingKey(caPrivateKeyPem));
}
