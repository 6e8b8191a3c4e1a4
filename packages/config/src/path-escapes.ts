/**
 * The percent-escapes of a URL path in the one form applications are matched in (SPEC.md section
 * 6), for request paths (the server) and entry paths (`applications[].path`) alike, so the two can
 * never be normalized differently: escapes of unreserved characters (ALPHA DIGIT - . _ ~) decoded,
 * every other escape upper-cased (RFC 3986 section 6.2.2). Dot segments are not resolved here.
 */
export interface PathEscapes {
  path: string;
  /** An encoded `/` or `\` (%2F, %5C): an upstream might decode it into a path no entry saw. */
  encodedSeparator: boolean;
  /** The first thing that makes the path unacceptable, if any: an encoded NUL, or a `%` that starts no escape. */
  refused?: 'nul' | 'stray-percent';
}

const ESCAPE = /%([0-9A-Fa-f]{2})?/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

export function normalizePathEscapes(path: string): PathEscapes {
  if (!path.includes('%')) return { path, encodedSeparator: false };
  let encodedSeparator = false;
  let refused: PathEscapes['refused'];
  const out = path.replace(ESCAPE, (_m, hex: string | undefined) => {
    if (hex === undefined) return (refused ??= 'stray-percent'), '%';
    const upper = hex.toUpperCase();
    if (upper === '00') return (refused ??= 'nul'), '%';
    if (upper === '2F' || upper === '5C') encodedSeparator = true;
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${upper}`;
  });
  return { path: out, encodedSeparator, ...(refused ? { refused } : {}) };
}
