import { randomBytes } from 'node:crypto';
import { invalid } from './errors.js';

/**
 * A random positive serial of 128 bits (RFC 5280 allows 20 octets; CA/B Forum asks for 64 bits
 * of entropy). The top bit is cleared so the DER INTEGER stays positive without a 00 pad, and
 * the top byte is at least 0x40 so the length is stable and the hex form has no leading zero
 * (it is the same string `normalizeSerialHex` gives, so records keyed by it always match). Unlike mkcert's small range, these do not
 * collide, which matters when revoking by serial.
 */
export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

/** Normalises a serial given by a user: hex, optional colons and 0x, lower case, no leading zeros. */
export function normalizeSerialHex(serial: string): string {
  const s = serial.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  if (!/^[0-9a-f]+$/.test(s) || s.length > 42) invalid(`serial "${serial}" is not a hexadecimal number of at most 20 bytes`);
  const t = s.replace(/^0+(?=.)/, '');
  return t;
}

/**
 * The `serialHex` option of a new certificate, normalised: positive and at most 20 octets as a
 * DER INTEGER, the sign pad included (RFC 5280 section 4.1.2.2). Zero is refused (the
 * certificate library would put a random serial in the certificate and the caller would record 0).
 */
export function checkNewSerialHex(serial: unknown): string {
  if (typeof serial !== 'string') invalid(`serialHex must be a hexadecimal string; got ${typeof serial}`);
  const hex = normalizeSerialHex(serial);
  if (hex === '0') invalid(`serial "${serial}" is zero; RFC 5280 section 4.1.2.2 requires a positive serial number`);
  const octets = ((hex.length + 1) >> 1) + (hex.length % 2 === 0 && Number.parseInt(hex[0]!, 16) >= 8 ? 1 : 0);
  if (octets > 20) invalid(`serial "${serial}" is ${octets} octets as a DER INTEGER (sign pad included); RFC 5280 section 4.1.2.2 allows at most 20`);
  return hex;
}
