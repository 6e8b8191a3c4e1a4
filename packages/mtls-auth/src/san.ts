import type { X509Certificate } from 'node:crypto';
import { AuthError } from './errors.js';

/**
 * Beyond Harper, off by default: map a subjectAltName to the username instead of the CN, e.g.
 * SPIFFE IDs `{ type: 'uri', pattern: '^spiffe://example\\.org/user/(.+)$' }`.
 * `pattern` must have exactly one capture group (the username) and is matched against the
 * whole SAN value; a string pattern is anchored with ^...$ when it is not already.
 */
export interface SanMapping {
  type: 'email' | 'uri' | 'dns';
  pattern: RegExp | string;
}

const PREFIX = { email: 'email', uri: 'URI', dns: 'DNS' } as const;

/** Validates a SanMapping once, at the edge; returns the compiled matcher. */
export function compileSanMapping(m: SanMapping): (cert: X509Certificate) => string | undefined {
  if (!m || !['email', 'uri', 'dns'].includes(m.type)) throw new AuthError('ERR_AUTH_INVALID_INPUT', 'sanMapping.type must be "email", "uri" or "dns"');
  let re: RegExp;
  try {
    re = typeof m.pattern === 'string' ? new RegExp(/^\^/.test(m.pattern) ? m.pattern : `^(?:${m.pattern})$`) : m.pattern;
  } catch (err) {
    throw new AuthError('ERR_AUTH_INVALID_INPUT', `sanMapping.pattern is not a valid regular expression: ${(err as Error).message}`);
  }
  if (!(re instanceof RegExp) || new RegExp(`${re.source}|`).exec('')!.length !== 2) {
    throw new AuthError('ERR_AUTH_INVALID_INPUT', 'sanMapping.pattern must have exactly one capture group (the username)');
  }
  const prefix = PREFIX[m.type];
  return (cert) => {
    const hits = new Set<string>();
    for (const [type, value] of sanEntries(cert.subjectAltName)) {
      if (type !== prefix) continue;
      const match = re.exec(value);
      if (match?.[1]) hits.add(match[1]);
    }
    // Two SANs naming different users is ambiguous: no user, as with several CNs.
    return hits.size === 1 ? [...hits][0] : undefined;
  };
}

/**
 * Splits Node's `subjectAltName` string ("DNS:a, URI:b"). Node (>= 17) writes a value that
 * contains ',', '"' or other specials as a JSON string, so quoted values are decoded with
 * JSON.parse and a comma inside them is not a separator.
 */
export function sanEntries(san: string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!san) return out;
  const re = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(san)) && out.length < 1000) {
    let value = m[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        return out;
      }
    }
    out.push([m[1]!, value]);
    if (re.lastIndex >= san.length) break;
  }
  return out;
}
