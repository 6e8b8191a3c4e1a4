import type { X509Certificate } from 'node:crypto';
import { sanEntries } from '@harper-tls/mtls-auth';
import { canonicalHeaderName } from '../http/forwarding-policy.js';

/**
 * The one place where identity headers are stripped and set, for modules and upstreams alike
 * (SPEC.md section 6). A request from a client is untrusted: every copy of every header below,
 * whatever its case, count or spelling with `_` for `-`, is removed before harper-tls adds its own.
 */

/** What harper-tls verified about one request. */
export interface VerifiedIdentity {
  user: { username: string; role: string; authenticatedBy: 'mtls' | 'basic' | 'jwt' | 'local' } | null;
  /** The client certificate that authenticated the request; null when none did. */
  certificate: X509Certificate | null;
}

/** The client-controlled headers that claim an identity or a forwarding path. */
export const IDENTITY_HEADER_NAMES: ReadonlySet<string> = new Set([
  'x-forwarded-user',
  'x-forwarded-role',
  'x-forwarded-auth',
  'x-forwarded-client-cert',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
]);

/** RFC 9110 §7.6.1 connection-specific headers, plus the legacy ones proxies still see; `expect` is answered by this server. */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'expect', 'http2-settings']);

/** `X_Forwarded_User` is the same header to CGI-style servers (and nginx with underscores_in_headers). */
const canonical = canonicalHeaderName;

export interface ForwardOptions {
  identity: VerifiedIdentity;
  /** Send X-Forwarded-User/-Role/-Auth and X-Forwarded-Client-Cert. False for `auth: none` and `identityHeaders: false`. */
  identityHeaders: false | { certificate: boolean };
  /** The Authorization header was consumed by harper-tls (auth required/optional): do not pass it on. */
  dropAuthorization: boolean;
  /**
   * The configured forwarded-certificate header (`http.mtls.forwardedCertificate.header`): never
   * passed on, in any spelling, believed or not; what was verified goes as X-Forwarded-Client-Cert.
   */
  certificateHeader?: string;
  /** The client address (`clientAddress(req)`), for `Forwarded: for=`. */
  clientAddress: string;
  /** The `X-Forwarded-For` to send (`forwardedForChain(req)`: believed inbound entries and the last hop); empty: the client address alone. */
  forwardedFor: readonly string[];
  proto: 'http' | 'https';
  /** The request's Host (HTTP/1.1) or :authority (HTTP/2), if well-formed. */
  host: string | undefined;
  /** Keep the inbound `Host` header (modules); upstreams get the upstream's host from the client. */
  keepHost?: boolean;
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(:\d{1,5})?$/;

/** The request's host, when it is a well-formed `host[:port]` a URL can carry (`a:99999`, `1.2.3.256` or `%` are not). */
export function requestHost(raw: string | undefined): string | undefined {
  return raw !== undefined && HOST.test(raw) && URL.canParse(`http://${raw}/`) ? raw : undefined;
}

/** Any character outside visible ASCII and space is percent-encoded, so a value can never break a header line. */
function headerSafe(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : v.replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c));
}

/** An IPv4 client of a dual-stack listener as its IPv4 address (`::ffff:127.0.0.1` -> `127.0.0.1`), as upstreams expect. */
function plainAddress(addr: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(addr) ? addr.slice(7) : addr;
}

/** RFC 7239 node: IPv6 in brackets and quoted. */
function forwardedNode(addr: string): string {
  return addr.includes(':') ? `"[${addr}]"` : addr || 'unknown';
}

function quoteIfNeeded(v: string): string {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * RFC 4514 string of a DN as Node prints it (`C=..\nO=..\nCN=..`, most significant first, values
 * already escaped the RFC 2253/4514 way by OpenSSL): reversed and joined by `,`.
 */
export function rfc4514(subject: string): string {
  return subject.split('\n').filter(Boolean).reverse().join(',');
}

const xfccCache = new WeakMap<X509Certificate, [string | undefined, string | undefined]>();

/** Envoy's `x-forwarded-client-cert` element for the verified certificate (computed once per certificate object, i.e. per connection). */
export function xfccValue(cert: X509Certificate, withPem: boolean): string {
  let hit = xfccCache.get(cert);
  if (!hit) xfccCache.set(cert, (hit = [undefined, undefined]));
  return (hit[withPem ? 1 : 0] ??= computeXfcc(cert, withPem));
}

/** An XFCC value in double quotes: `,`, `;` and `=` inside are literal, `"` and `\` escaped. */
function xfccQuoted(v: string): string {
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

function computeXfcc(cert: X509Certificate, withPem: boolean): string {
  const hash = cert.fingerprint256.replaceAll(':', '').toLowerCase();
  const parts = [`Hash=${hash}`, `Subject=${xfccQuoted(rfc4514(cert.subject))}`];
  // Node's subjectAltName JSON-quotes a value with `,` or other specials: read it entry by entry, and
  // quote every value, so a SAN like `spiffe://x;Hash=...` can never add a field of its own.
  for (const [type, value] of sanEntries(cert.subjectAltName)) {
    if (type === 'URI') parts.push(`URI=${xfccQuoted(value)}`);
    else if (type === 'DNS') parts.push(`DNS=${xfccQuoted(value)}`);
  }
  if (withPem) parts.push(`Cert="${encodeURIComponent(cert.toString())}"`);
  return headerSafe(parts.join(';'));
}

/**
 * The headers to pass on, as a flat `[name, value, ...]` list: the inbound `rawHeaders` without
 * identity, hop-by-hop, HTTP/2 pseudo headers and (when consumed) Authorization, then harper-tls's own.
 */
export function forwardHeaders(rawHeaders: readonly string[], opts: ForwardOptions): string[] {
  const connectionListed = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (canonical(rawHeaders[i]!) === 'connection') for (const t of rawHeaders[i + 1]!.split(',')) connectionListed.add(canonical(t.trim()));
  }
  const certificateHeader = opts.certificateHeader === undefined ? undefined : canonical(opts.certificateHeader);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const c = canonical(name);
    if (c.startsWith(':') || IDENTITY_HEADER_NAMES.has(c) || HOP_BY_HOP.has(c) || connectionListed.has(c)) continue;
    if (c === 'authorization' && opts.dropAuthorization) continue;
    if (c === certificateHeader) continue;
    if (c === 'host' && !opts.keepHost) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (opts.keepHost && opts.host && !out.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'host')) out.push('host', opts.host);
  const { user, certificate } = opts.identity;
  if (opts.identityHeaders) {
    if (user) out.push('x-forwarded-user', headerSafe(user.username), 'x-forwarded-role', headerSafe(user.role), 'x-forwarded-auth', user.authenticatedBy);
    if (certificate) out.push('x-forwarded-client-cert', xfccValue(certificate, opts.identityHeaders.certificate));
  }
  const client = plainAddress(opts.clientAddress);
  const chain = (opts.forwardedFor.length ? opts.forwardedFor : [client]).filter(Boolean);
  if (chain.length) out.push('x-forwarded-for', chain.join(', '));
  out.push('x-forwarded-proto', opts.proto);
  if (opts.host) out.push('x-forwarded-host', opts.host);
  const fwd = [`for=${forwardedNode(client)}`, `proto=${opts.proto}`, ...(opts.host ? [`host=${quoteIfNeeded(opts.host)}`] : [])].join(';');
  out.push('forwarded', fwd);
  return out;
}

/** Pairs from a flat list into Node's `IncomingHttpHeaders` shape (lower-case names; `set-cookie` a list; others joined by ", "). */
export function headersObject(flat: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    const v = flat[i + 1]!;
    const prev = out[k];
    if (prev === undefined) out[k] = k === 'set-cookie' ? [v] : v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = k === 'cookie' ? `${prev}; ${v}` : `${prev}, ${v}`;
  }
  return out;
}

/** Response headers from an upstream without hop-by-hop ones (Node frames the response itself). */
export function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = new Set(String(headers.connection ?? '').split(',').map((t) => canonical(t.trim())));
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const c = canonical(k);
    if (HOP_BY_HOP.has(c) || listed.has(c)) continue;
    out[k] = v;
  }
  return out;
}
