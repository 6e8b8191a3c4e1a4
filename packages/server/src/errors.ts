import { HarperTlsError } from '@harper-tls/config';

/**
 * Errors of @harper-tls/server. Codes:
 * - ERR_SERVER_TLS_MATERIAL: a certificate, key or CA could not be loaded or does not fit.
 * - ERR_SERVER_LISTEN: a port could not be bound (in use, permission).
 * - ERR_SERVER_CERTIFICATE: an add/remove certificate request is invalid.
 * - ERR_SERVER_DATABASE: the embedded store cannot be opened or written (permissions, disk full).
 * - ERR_SERVER_WORKERS: a change could not be applied on every worker, or a worker did not start.
 */
export class ServerError extends HarperTlsError {}
