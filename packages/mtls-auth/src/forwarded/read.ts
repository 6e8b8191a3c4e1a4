import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { decodeForwardedCertificate, type ForwardedDecode, type ForwardedFormat } from './decode.js';

/** The authenticator's `forwarded` option. */
export interface ForwardedCertificateOption {
  /** Lower-case header name. */
  header: string;
  format: ForwardedFormat;
  /**
   * Whether this request's forwarded headers are believed: its TCP peer is a trusted proxy (the
   * caller decides; `@harper-tls/server` also refuses when the connection's PROXY header names an
   * untrusted client, since then the HTTP headers are the client's own).
   */
  trusted: (req: IncomingMessage | Http2ServerRequest) => boolean;
}

/** Every copy of `header` as received (Node joins duplicate custom headers with ", " in `req.headers`). */
export function headerCopies(req: IncomingMessage | Http2ServerRequest, header: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.length === header.length && raw[i]!.toLowerCase() === header) out.push(raw[i + 1]!);
    return out;
  }
  const v = req.headers[header];
  return v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
}

const MAX_REMEMBERED = 256;

/**
 * Reads the forwarded certificate of a request: decoded certificates are remembered by header
 * value (a proxy sends the same value for every request of a client), bounded, oldest dropped
 * first. Only parsing is remembered: the decision is made anew on every request.
 */
export function forwardedReader(opt: ForwardedCertificateOption): (req: IncomingMessage | Http2ServerRequest) => ForwardedDecode {
  const parsed = new Map<string, { kind: 'chain'; certificates: X509Certificate[] }>();
  return (req) => {
    const copies = headerCopies(req, opt.header);
    if (copies.length !== 1) return decodeForwardedCertificate(opt.format, copies);
    const key = copies[0]!;
    const hit = parsed.get(key);
    if (hit) return hit;
    const d = decodeForwardedCertificate(opt.format, copies);
    if (d.kind === 'chain') {
      if (parsed.size >= MAX_REMEMBERED) parsed.delete(parsed.keys().next().value!);
      parsed.set(key, d);
    }
    return d;
  };
}
