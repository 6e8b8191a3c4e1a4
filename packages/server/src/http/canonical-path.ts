/**
 * The one form of a request path that routing, authorization and forwarding all use, so that a
 * path an upstream would decode to `/admin/users` is also matched as `/admin/users`:
 * percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) decoded and every other escape
 * upper-cased (RFC 3986 section 6.2.2), then dot segments resolved (WHATWG URL parsing, as
 * before). An encoded NUL (%00) and a `%` that starts no escape are refused (400). An encoded `/`
 * (%2F) or `\` (%5C) is kept as it is and flagged (`encodedSeparator`): the server's own paths
 * take it (an OCSP GET request is URL-encoded base64, `/` included: RFC 6960 appendix A.1), while
 * a request for an application is refused with `ENCODED_SEPARATOR` (an upstream might decode it
 * into a path the entries never saw).
 */
export type CanonicalPath = { ok: true; pathname: string; encodedSeparator: boolean } | { ok: false; error: string };

/** Why a request for an application whose path holds an encoded `/` or `\` gets a 400. */
export const ENCODED_SEPARATOR = 'an encoded "/" or "\\" (%2F, %5C) in the path of an application is not accepted';

/** A path `new URL()` would return unchanged: no query, dot segments, escapes or leading `//`. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9_\-/]*$/;
const ESCAPE = /%([0-9A-Fa-f]{2})?/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const SEPARATORS = new Set(['2F', '5C']);

export function canonicalPath(target: string): CanonicalPath {
  if (PLAIN_PATH.test(target)) return { ok: true, pathname: target, encodedSeparator: false };
  const end = target.search(/[?#]/);
  let path = end < 0 ? target : target.slice(0, end);
  let encodedSeparator = false;
  if (path.includes('%')) {
    let refused: string | undefined;
    path = path.replace(ESCAPE, (_m, hex: string | undefined) => {
      if (hex === undefined) return (refused ??= 'a "%" in the path starts no percent-escape'), '%';
      const upper = hex.toUpperCase();
      if (upper === '00') return (refused ??= 'an encoded NUL (%00) in the path is not accepted'), '%';
      if (SEPARATORS.has(upper)) encodedSeparator = true;
      const c = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(c) ? c : `%${upper}`;
    });
    if (refused) return { ok: false, error: refused };
  }
  try {
    return { ok: true, pathname: new URL(path, 'http://localhost').pathname, encodedSeparator };
  } catch {
    // A request target URL parsing refuses (`//[`): the client's error, not the server's.
    return { ok: false, error: 'invalid request target' };
  }
}
