import { isIP } from 'node:net';
import type { ResolveContext } from './context.js';
import type { PathPart } from './sources.js';
import { isPlainObject, readBoolean } from './values.js';

/** `http.mtls.forwardedCertificate.format` (SPEC.md section 7). */
export type ForwardedCertificateFormat = 'xfcc' | 'pem-urlencoded' | 'der-base64';

/** Default header per format (SPEC.md section 7), lower case. */
export const FORWARDED_CERTIFICATE_HEADERS: Readonly<Record<ForwardedCertificateFormat, string>> = Object.freeze({
  xfcc: 'x-forwarded-client-cert',
  'pem-urlencoded': 'x-ssl-client-cert',
  'der-base64': 'x-ssl-client-der',
});

/** `http.mtls.forwardedCertificate`: where a trusted proxy puts the client certificate it received. */
export interface ForwardedCertificateConfig {
  /** Lower-case header name. Default per format: see FORWARDED_CERTIFICATE_HEADERS. */
  header: string;
  format: ForwardedCertificateFormat;
}

/** `http.trustedProxies` and `http.proxyProtocol` (SPEC.md section 7). */
export interface ProxiesConfig {
  /** Addresses or CIDRs (IPv4/IPv6), as configured (validated). Default []. */
  trustedProxies: string[];
  /** Every application connection starts with a PROXY v1/v2 header. Default false. */
  proxyProtocol: boolean;
}

const FORMATS = Object.keys(FORWARDED_CERTIFICATE_HEADERS) as ForwardedCertificateFormat[];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why `entry` is not an IPv4/IPv6 address or CIDR, or undefined when it is one. */
export function proxyEntryProblem(entry: unknown): string | undefined {
  if (typeof entry !== 'string' || entry === '') return 'expected an IPv4/IPv6 address or CIDR as a string (e.g. "10.0.0.0/8", "::1")';
  const [addr, bits, extra] = entry.split('/');
  const family = isIP(addr!);
  if (!family || extra !== undefined) return 'not an IPv4/IPv6 address or CIDR (host names are not allowed: trust is decided by the TCP peer address)';
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `the prefix length must be 0-${max}`;
  return undefined;
}

/** `http.trustedProxies`: a list (or one string) of addresses and CIDRs; every entry is checked. */
export function readTrustedProxies(ctx: ResolveContext, path: PathPart[]): string[] {
  const v = ctx.get(path);
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) {
    ctx.issue(path, v, 'expected a list of addresses or CIDRs, e.g. ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]');
    return [];
  }
  const out: string[] = [];
  list.forEach((entry, i) => {
    const problem = proxyEntryProblem(entry);
    if (problem) ctx.issue([...path, i], entry, problem);
    else out.push(entry as string);
  });
  return out;
}

/** `http.mtls.forwardedCertificate`: absent, or `{format, header}` (header defaults per format). */
export function readForwardedCertificate(ctx: ResolveContext, path: PathPart[]): ForwardedCertificateConfig | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected an object {format, header}, e.g. {format: "pem-urlencoded", header: "x-ssl-client-cert"}');
    return undefined;
  }
  const format = v.format;
  if (typeof format !== 'string' || !(FORMATS as string[]).includes(format)) {
    ctx.issue([...path, 'format'], format, `expected one of ${FORMATS.map((f) => `"${f}"`).join(', ')}`);
    return undefined;
  }
  const header = v.header;
  if (header !== undefined && header !== null && (typeof header !== 'string' || !TOKEN.test(header))) {
    ctx.issue([...path, 'header'], header, 'expected an HTTP header name such as "x-ssl-client-cert"');
    return undefined;
  }
  const name = typeof header === 'string' ? header.toLowerCase() : FORWARDED_CERTIFICATE_HEADERS[format as ForwardedCertificateFormat];
  if (['authorization', 'host', 'cookie', 'content-length', 'transfer-encoding', 'connection'].includes(name)) {
    ctx.issue([...path, 'header'], header, 'this header has another meaning in HTTP; choose a header of its own such as "x-ssl-client-cert"');
    return undefined;
  }
  return { header: name, format: format as ForwardedCertificateFormat };
}

/**
 * `http.trustedProxies` and `http.proxyProtocol`. Settings that could never take effect are an
 * error rather than silently inert: PROXY protocol or a forwarded certificate with no trusted
 * proxy would refuse every connection or never believe a header.
 */
export function readProxies(ctx: ResolveContext, httpPath: PathPart[], forwarded: ForwardedCertificateConfig | undefined): ProxiesConfig {
  const trustedProxies = readTrustedProxies(ctx, [...httpPath, 'trustedProxies']);
  const proxyProtocol = readBoolean(ctx, [...httpPath, 'proxyProtocol'], false);
  const none = ctx.get([...httpPath, 'trustedProxies']) === undefined || (Array.isArray(ctx.get([...httpPath, 'trustedProxies'])) && (ctx.get([...httpPath, 'trustedProxies']) as unknown[]).length === 0);
  if (proxyProtocol && none) {
    ctx.issue([...httpPath, 'proxyProtocol'], true, 'needs http.trustedProxies: a PROXY header is accepted only from a trusted proxy, so with none every connection would be closed');
  }
  if (forwarded && none) {
    ctx.issue([...httpPath, 'mtls', 'forwardedCertificate'], undefined, 'needs http.trustedProxies: the header is believed only from a trusted proxy, so with none it would never be used');
  }
  return { trustedProxies, proxyProtocol };
}
