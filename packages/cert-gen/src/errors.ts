import { HarperTlsError } from '@harper-tls/config';

/**
 * Errors of @harper-tls/cert-gen. Codes:
 * - ERR_CERTGEN_INVALID_INPUT: an option is missing or out of range (CN, days, SAN, key type, serial).
 * - ERR_CERTGEN_KEY: a private key cannot be read or is of an unsupported type.
 * - ERR_CERTGEN_FILES: the key directory holds a partial or inconsistent set of files.
 * - ERR_CERTGEN_UNKNOWN_SERIAL: a revocation names a serial the local CA never issued.
 * - ERR_CERTGEN_SERIAL_COLLISION: a shared store refused a new serial several times in a row.
 */
export class CertGenError extends HarperTlsError {}

export function invalid(message: string): never {
  throw new CertGenError('ERR_CERTGEN_INVALID_INPUT', message);
}
