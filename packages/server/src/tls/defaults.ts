import { constants } from 'node:crypto';

/**
 * Mozilla's "intermediate" server profile (ssl-config.mozilla.org, guidelines 6.0): TLS 1.3
 * suites, then TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305 only (no CBC, CCM, ARIA,
 * Camellia, static RSA; 6.0 dropped the DHE suites of 5.7). The default of `tls.ciphers`.
 */
export const DEFAULT_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Seconds a TLS session stays resumable, and the ticket lifetime hint: the default of `tls.sessionTimeout` (nginx's `ssl_session_timeout` default). */
export const DEFAULT_SESSION_TIMEOUT = 300;

/** The oldest protocol a secure listener speaks. */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/**
 * OpenSSL options of every secure context: SSL_OP_NO_RENEGOTIATION refuses renegotiation
 * (a client's ClientHello on an established TLS 1.2 connection gets a no_renegotiation alert,
 * as nginx does), instead of Node's limit of 3 per 10 minutes (`tls.CLIENT_RENEG_LIMIT`).
 */
export const SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION;
