import { createHash, X509Certificate } from 'node:crypto';
import { parseXfcc, XfccSyntaxError } from './xfcc.js';

/** `http.mtls.forwardedCertificate.format` (SPEC.md section 7). */
export type ForwardedFormat = 'xfcc' | 'pem-urlencoded' | 'der-base64';

/**
 * What a forwarded-certificate header holds: no certificate (`none`: header absent or empty, as
 * nginx and HAProxy send when the client presented none), the certificates (leaf first), or a
 * value that is refused: 400 when it cannot be decoded at all, 401 when it decodes to something
 * that is not a usable certificate (SPEC.md section 7).
 */
export type ForwardedDecode =
  | { kind: 'none' }
  | { kind: 'chain'; certificates: X509Certificate[] }
  | { kind: 'bad'; status: 400 | 401; reason: string };

/** Largest header value read, bytes: below Node's 16 KiB header limit (which answers 431), above a leaf and two RSA-4096 intermediates URL-encoded (~9 KiB). */
export const MAX_FORWARDED_BYTES = 12 * 1024;
/** Most certificates taken from one header (leaf + intermediates). */
export const MAX_FORWARDED_CERTIFICATES = 8;

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const bad = (status: 400 | 401, reason: string): ForwardedDecode => ({ kind: 'bad', status, reason });

function fromDer(ders: Buffer[], what: string): ForwardedDecode {
  if (ders.length > MAX_FORWARDED_CERTIFICATES) return bad(401, `${what}: more than ${MAX_FORWARDED_CERTIFICATES} certificates`);
  const out: X509Certificate[] = [];
  for (const [i, der] of ders.entries()) {
    try {
      out.push(new X509Certificate(der));
    } catch {
      return bad(401, `${what}: certificate ${i + 1} is not an X.509 certificate`);
    }
  }
  return { kind: 'chain', certificates: out };
}

/** PEM text (after URL decoding) → DER of each CERTIFICATE block; anything but blocks and whitespace is refused. */
function fromPem(text: string, what: string): ForwardedDecode {
  const ders: Buffer[] = [];
  let rest = text;
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = m[1]!.replace(/\s+/g, '');
    if (!BASE64.test(body)) return bad(401, `${what}: a PEM block is not base64`);
    ders.push(Buffer.from(body, 'base64'));
    rest = rest.replace(m[0], '');
  }
  if (ders.length === 0) return bad(401, `${what}: no "-----BEGIN CERTIFICATE-----" block`);
  if (rest.trim() !== '') return bad(401, `${what}: text outside the certificate blocks`);
  return fromDer(ders, what);
}

/**
 * URL decoding as nginx's `$ssl_client_escaped_cert` and AWS ALB (`+=/` left as they are) write
 * it: percent escapes only. `+` stays `+` (it is base64, not a space: reading it as a form value
 * is the classic ALB misparse).
 */
function urlDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

function decodeXfcc(value: string): ForwardedDecode {
  let elements;
  try {
    elements = parseXfcc(value);
  } catch (err) {
    if (err instanceof XfccSyntaxError) return bad(400, `x-forwarded-client-cert cannot be parsed: ${err.message}`);
    throw err;
  }
  // Only the last element: the one the nearest proxy (a trusted one) appended.
  const last = elements[elements.length - 1]!;
  const encoded = last.get('chain') ?? last.get('cert');
  if (encoded === undefined) return bad(401, 'the last x-forwarded-client-cert element has no Cert= (the nearest proxy must forward the certificate)');
  const pem = urlDecode(encoded);
  if (pem === undefined) return bad(400, 'x-forwarded-client-cert Cert= is not URL-encoded');
  const decoded = fromPem(pem, 'x-forwarded-client-cert');
  if (decoded.kind !== 'chain') return decoded;
  const leaf = last.get('cert') !== undefined && last.get('chain') !== undefined ? fromPem(urlDecode(last.get('cert')!) ?? '', 'x-forwarded-client-cert Cert=') : undefined;
  if (leaf && (leaf.kind !== 'chain' || leaf.certificates[0]!.fingerprint256 !== decoded.certificates[0]!.fingerprint256)) {
    return bad(401, 'x-forwarded-client-cert: Cert= and the first certificate of Chain= differ');
  }
  const hash = last.get('hash');
  if (hash !== undefined) {
    const actual = createHash('sha256').update(decoded.certificates[0]!.raw).digest('hex');
    if (hash.toLowerCase() !== actual) return bad(401, 'x-forwarded-client-cert: Hash= is not the SHA-256 of the certificate');
  }
  return decoded;
}

/**
 * Decodes one forwarded-certificate header value (`values`: every copy received, from
 * `rawHeaders`, so duplicates are seen even where Node would join them). Two or more copies are
 * refused (401): which one a proxy wrote cannot be told apart.
 */
export function decodeForwardedCertificate(format: ForwardedFormat, values: readonly string[]): ForwardedDecode {
  if (values.length === 0) return { kind: 'none' };
  if (values.length > 1) return bad(401, `the forwarded certificate header appears ${values.length} times`);
  const value = values[0]!.trim();
  if (value === '') return { kind: 'none' };
  if (value.length > MAX_FORWARDED_BYTES) return bad(400, `the forwarded certificate header is over ${MAX_FORWARDED_BYTES} bytes`);
  if (format === 'xfcc') return decodeXfcc(value);
  if (format === 'pem-urlencoded') {
    const pem = urlDecode(value);
    if (pem === undefined) return bad(400, 'the forwarded certificate is not URL-encoded PEM (bad % escape)');
    return fromPem(pem, 'the forwarded certificate');
  }
  // der-base64: HAProxy's %[ssl_c_der,base64]; a chain as comma-separated values (Traefik style).
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => !BASE64.test(p) || p.length % 4 !== 0)) return bad(400, 'the forwarded certificate is not base64 DER (comma-separated for a chain)');
  return fromDer(parts.map((p) => Buffer.from(p, 'base64')), 'the forwarded certificate');
}
