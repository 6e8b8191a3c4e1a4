/**
 * The one form of a request path that routing, authorization and forwarding all use, so that a
 * path an upstream would decode to `/admin/users` is also matched as `/admin/users`:
 * percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) decoded and every other escape
 * upper-cased (RFC 3986 section 6.2.2), then dot segments resolved (WHATWG URL parsing, as
 * before). As nginx does, an encoded `/` (%2F), `\` (%5C) or NUL (%00) and a `%` that starts no
 * escape are refused (400): an upstream might decode them into a path the entries never saw.
 */
export type CanonicalPath = { ok: true; pathname: string } | { ok: false; error: string };

/** A path `new URL()` would return unchanged: no query, dot segments, escapes or leading `//`. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9_\-/]*$/;
const ESCAPE = /%([0-9A-Fa-f]{2})?/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const REFUSED = new Set(['2F', '5C', '00']);

export function canonicalPath(target: string): CanonicalPath {
  if (PLAIN_PATH.test(target)) return { ok: true, pathname: target };
  const end = target.search(/[?#]/);
  let path = end < 0 ? target : target.slice(0, end);
  if (path.includes('%')) {
    let refused: string | undefined;
    path = path.replace(ESCAPE, (_m, hex: string | undefined) => {
      if (hex === undefined) return (refused ??= 'a "%" in the path starts no percent-escape'), '%';
      const upper = hex.toUpperCase();
      if (REFUSED.has(upper)) return (refused ??= 'an encoded "/", "\\" or NUL (%2F, %5C, %00) in the path is not accepted'), '%';
      const c = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(c) ? c : `%${upper}`;
    });
    if (refused) return { ok: false, error: refused };
  }
  try {
    return { ok: true, pathname: new URL(path, 'http://localhost').pathname };
  } catch {
    // A request target URL parsing refuses (`//[`): the client's error, not the server's.
    return { ok: false, error: 'invalid request target' };
  }
}
