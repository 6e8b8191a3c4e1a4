import { compileTrustedProxies, type TrustedProxies } from '../forwarded/proxies.js';
import { X509Certificate } from 'node:crypto';
import { normalizeCertificateVerification, type CertificateVerificationConfig, type FailureMode, type MtlsUserMapping } from '@harper-tls/config';
import type { FetchLike } from '@harper-tls/revocation';
import type { AuthLogger } from '../authenticator.js';
import { AuthError } from '../errors.js';

/** What `users` returns for a username: the user, or null (no such user: 401). */
export interface MtlsUserRecord {
  username: string;
  role: string | null;
}

/** `req.user` / `request.user` / `ctx.state.user` (SPEC section 6). */
export interface MtlsUser {
  username: string;
  role: string | null;
  authenticatedBy: 'mtls';
}

type MethodSettings<K extends string> = boolean | ({ enabled?: boolean; failureMode?: FailureMode } & Partial<Record<K, number>>);

/** The keys of `certificateVerification` (SPEC section 2); durations in ms. */
export interface RevocationSettings {
  failureMode?: FailureMode;
  crl?: MethodSettings<'timeout' | 'cacheTtl' | 'gracePeriod'>;
  ocsp?: MethodSettings<'timeout' | 'cacheTtl' | 'errorCacheTtl'>;
}

export type { ForwardedFormat } from '../forwarded/decode.js';
import type { ForwardedFormat } from '../forwarded/decode.js';

/** Options of `mtls(options)` for every adapter (SPEC section 9). */
export interface MtlsOptions {
  /** Default true: a request without a verified client certificate gets 401. false: it is passed on with user and clientCertificate null. */
  required?: boolean;
  /** As `http.mtls.user`: `'CN'` (default, the subject CN is the username), another username (every client is that user), or null (the certificate names no user; user is null). */
  user?: string | null;
  /** username → the user, or null (401 "Login failed"); sync or async. Default: every verified CN is a user with role null. A throw is the framework's error (500), not a 401. */
  users?: (username: string) => MtlsUserRecord | null | undefined | Promise<MtlsUserRecord | null | undefined>;
  /** Default false. `true` or `{}`: CRL then OCSP, fail-closed (the defaults of `certificateVerification: true`); otherwise the keys of `certificateVerification`. */
  revocation?: boolean | RevocationSettings;
  /** As `http.mtls.forwardedCertificate` (SPEC section 7): where a trusted proxy puts the client certificate. */
  forwardedCertificate?: { header?: string; format: ForwardedFormat };
  /** As `http.trustedProxies`: addresses or CIDRs whose forwarded certificate header is believed. Default none. */
  trustedProxies?: readonly string[];
  /** Beyond SPEC: the CAs client certificates chain to. Default: the `ca` the https server was created with (`server.ca`, re-read after `setSecureContext`). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Beyond SPEC: refused requests log one `info` line `authentication failed` `{reason, remote}`. Default: nothing is logged. */
  logger?: AuthLogger;
  /** Beyond SPEC: clock for validity and revocation; default `() => new Date()`. */
  now?: () => Date;
  /** Beyond SPEC: fetch for CRL and OCSP downloads; default the global fetch. */
  fetch?: FetchLike;
}

export const FORWARDED_HEADERS: Readonly<Record<ForwardedFormat, string>> = { xfcc: 'x-forwarded-client-cert', 'pem-urlencoded': 'x-ssl-client-cert', 'der-base64': 'x-ssl-client-der' };

/** The options after validation: what the core runs on. */
export interface ResolvedOptions {
  required: boolean;
  user: MtlsUserMapping;
  users: MtlsOptions['users'];
  revocation: CertificateVerificationConfig | false;
  forwarded?: { header: string; format: ForwardedFormat; proxies: TrustedProxies };
  ca?: X509Certificate[];
  logger?: AuthLogger;
  now?: () => Date;
  fetch?: FetchLike;
}

const KNOWN = ['required', 'user', 'users', 'revocation', 'forwardedCertificate', 'trustedProxies', 'ca', 'logger', 'now', 'fetch'];
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function invalid(message: string): never {
  throw new AuthError('ERR_AUTH_INVALID_OPTION', `mtls(): ${message}`);
}

/** Every certificate in PEM text, or a DER buffer; throws ERR_AUTH_INVALID_OPTION naming `key`. */
export function parseCas(value: unknown, key: string): X509Certificate[] {
  const items = Array.isArray(value) ? value : [value];
  const out: X509Certificate[] = [];
  for (const item of items) {
    const text = typeof item === 'string' ? item : Buffer.isBuffer(item) ? item.toString('latin1') : invalid(`${key} must be PEM text, a Buffer, or a list of them`);
    const blocks = text.match(CERT_BLOCK) ?? (Buffer.isBuffer(item) ? [item] : []);
    if (blocks.length === 0) invalid(`${key} holds no certificate (-----BEGIN CERTIFICATE-----)`);
    for (const b of blocks) {
      try {
        out.push(new X509Certificate(b));
      } catch (err) {
        invalid(`${key} holds a certificate that cannot be read: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

function readUser(v: unknown): MtlsUserMapping {
  if (v === undefined || v === 'CN' || v === 'Common Name') return { kind: 'cn' };
  if (v === null) return { kind: 'none' };
  if (typeof v === 'string' && v.length > 0 && !/^(cn|common ?name)$/i.test(v)) return { kind: 'fixed', username: v };
  return invalid(`options.user = ${JSON.stringify(v)}: expected "CN" (the subject CN is the username), another username (every client is that user), or null (the certificate names no user)`);
}

function readForwarded(opts: MtlsOptions): ResolvedOptions['forwarded'] {
  let proxies: TrustedProxies = compileTrustedProxies([]);
  if (opts.trustedProxies !== undefined) {
    if (!Array.isArray(opts.trustedProxies)) invalid('options.trustedProxies must be a list of addresses or CIDRs (e.g. ["10.0.0.0/8", "::1"])');
    try {
      proxies = compileTrustedProxies(opts.trustedProxies, 'options.trustedProxies');
    } catch (err) {
      invalid((err as Error).message);
    }
  }
  const f = opts.forwardedCertificate;
  if (f === undefined) return undefined;
  if (typeof f !== 'object' || f === null) invalid('options.forwardedCertificate must be an object {header, format}');
  if (!(f.format in FORWARDED_HEADERS)) invalid(`options.forwardedCertificate.format = ${JSON.stringify(f.format)}: expected "xfcc", "pem-urlencoded" or "der-base64"`);
  if (f.header !== undefined && (typeof f.header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(f.header))) invalid(`options.forwardedCertificate.header = ${JSON.stringify(f.header)}: expected an HTTP header name`);
  return { header: (f.header ?? FORWARDED_HEADERS[f.format]).toLowerCase(), format: f.format, proxies };
}

/** Validates `mtls(options)` once; throws AuthError ERR_AUTH_INVALID_OPTION naming the option. */
export function resolveOptions(opts: MtlsOptions | undefined): ResolvedOptions {
  if (opts === undefined) opts = {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) invalid('options must be an object');
  for (const k of Object.keys(opts)) if (!KNOWN.includes(k)) invalid(`unknown option "${k}"; known options: ${KNOWN.join(', ')}`);
  if (opts.required !== undefined && typeof opts.required !== 'boolean') invalid('options.required must be true or false');
  if (opts.users !== undefined && typeof opts.users !== 'function') invalid('options.users must be a function username => {username, role} | null');
  for (const k of ['now', 'fetch'] as const) if (opts[k] !== undefined && typeof opts[k] !== 'function') invalid(`options.${k} must be a function`);
  if (opts.logger !== undefined && (typeof opts.logger?.info !== 'function' || typeof opts.logger?.warn !== 'function')) invalid('options.logger must have info() and warn()');
  const { value: revocation, issues } = normalizeCertificateVerification(opts.revocation, { key: 'options.revocation' });
  if (issues.length) invalid(issues.map((i) => `${i.key}${i.value === undefined ? '' : ` = ${JSON.stringify(i.value)}`}: ${i.message}`).join('; '));
  return {
    required: opts.required ?? true,
    user: readUser(opts.user),
    users: opts.users,
    revocation,
    forwarded: readForwarded(opts),
    ca: opts.ca === undefined ? undefined : parseCas(opts.ca, 'options.ca'),
    logger: opts.logger,
    now: opts.now,
    fetch: opts.fetch,
  };
}
