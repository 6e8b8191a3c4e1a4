import { HarperTlsError } from '@harper-tls/config';

/**
 * Errors of @harper-tls/mtls-auth. Codes:
 * - ERR_AUTH_INVALID_INPUT: a username, password or role is missing or malformed.
 * - ERR_AUTH_USER_EXISTS / ERR_AUTH_USER_NOT_FOUND: add/alter/drop of a user.
 * - ERR_AUTH_STORE: the user store cannot be opened or written.
 * - ERR_AUTH_INVALID_OPTION: an option of createAuthenticator / createTokenService is wrong.
 */
export class AuthError extends HarperTlsError {}
