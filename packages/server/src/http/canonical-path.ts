import { normalizePathEscapes } from '@harper-tls/config';

/**
 * The one form of a request path that routing, authorization and forwarding all use, so that a
 * path an upstream would decode to `/admin/users` is also matched as `/admin/users`: its
 * percent-escapes normalized as entry paths are (normalizePathEscapes of @harper-tls/config), then
 * dot segments resolved (WHATWG URL parsing). An encoded NUL (%00) and a `%` that starts no
 * escape are refused (400). An encoded `/` (%2F) or `\` (%5C) is kept as it is and flagged
 * (`encodedSeparator`): the server's own paths take it (an OCSP GET request is URL-encoded
 * base64, `/` included: RFC 6960 appendix A.1), while a request for an application is refused
 * with `ENCODED_SEPARATOR` (an upstream might decode it into a path the entries never saw).
 */
export type CanonicalPath = { ok: true; pathname: string; encodedSeparator: boolean } | { ok: false; error: string };

/** Why a request for an application whose path holds an encoded `/` or `\` gets a 400. */
export const ENCODED_SEPARATOR = 'an encoded "/" or "\\" (%2F, %5C) in the path of an application is not accepted';

/** A path `new URL()` would return unchanged: no query, dot segments, escapes or leading `//`. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9_\-/]*$/;

const REFUSED = {
  'stray-percent': 'a "%" in the path starts no percent-escape',
  nul: 'an encoded NUL (%00) in the path is not accepted',
} as const;

export function canonicalPath(target: string): CanonicalPath {
  if (PLAIN_PATH.test(target)) return { ok: true, pathname: target, encodedSeparator: false };
  const end = target.search(/[?#]/);
  const escapes = normalizePathEscapes(end < 0 ? target : target.slice(0, end));
  if (escapes.refused) return { ok: false, error: REFUSED[escapes.refused] };
  try {
    return { ok: true, pathname: new URL(escapes.path, 'http://localhost').pathname, encodedSeparator: escapes.encodedSeparator };
  } catch {
    // A request target URL parsing refuses (`//[`): the client's error, not the server's.
    return { ok: false, error: 'invalid request target' };
  }
}
