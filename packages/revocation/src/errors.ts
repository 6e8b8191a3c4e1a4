import { HarperTlsError } from '@harper-tls/config';

/**
 * Errors of @harper-tls/revocation. Codes:
 * - ERR_REVOCATION_MALFORMED_DER: bytes that are not valid DER (offset in the message).
 * - ERR_REVOCATION_MALFORMED_CERT / _CRL / _OCSP: valid DER that is not the expected structure.
 * - ERR_REVOCATION_FETCH: a download failed (status, connection); ERR_REVOCATION_TIMEOUT: it took too long.
 * - ERR_REVOCATION_TOO_LARGE: a download exceeded the size limit.
 * - ERR_REVOCATION_INPUT: a chain or option given to the checker is unusable.
 */
export class RevocationError extends HarperTlsError {
  /** The HTTP status of a download answered with a non-2xx status (ERR_REVOCATION_FETCH). */
  readonly httpStatus?: number;

  constructor(code: string, message: string, options?: { cause?: unknown; httpStatus?: number }) {
    super(code, message, options);
    if (options?.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }
}
