import { RevocationError } from '../errors.js';

/** The one error a CRL parse throws: ERR_REVOCATION_MALFORMED_CRL, saying what is wrong. */
export function malformed(why: string): never {
  throw new RevocationError('ERR_REVOCATION_MALFORMED_CRL', `not a valid CRL: ${why}`);
}

/** Runs `fn`, turning any other failure of the DER reader into ERR_REVOCATION_MALFORMED_CRL. */
export function asMalformed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RevocationError && err.code === 'ERR_REVOCATION_MALFORMED_CRL') throw err;
    throw new RevocationError('ERR_REVOCATION_MALFORMED_CRL', `not a valid CRL: ${(err as Error).message}`);
  }
}
