/**
 * SNI host matching as nginx and Caddy do it: exact names first, then the longest matching
 * wildcard. A wildcard `*.example.com` covers exactly one label (`a.example.com`, not
 * `example.com`, not `a.b.example.com`). Names compare case-insensitively, without a trailing dot.
 */
export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

export function hostMatches(pattern: string, servername: string): boolean {
  const p = normalizeHost(pattern);
  const s = normalizeHost(servername);
  if (!p.startsWith('*.')) return p === s;
  const suffix = p.slice(1); // ".example.com"
  if (!s.endsWith(suffix)) return false;
  const label = s.slice(0, s.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

/** Picks the index of the entry serving `servername`, or undefined when none matches. */
export function selectByHost<T extends { hosts: readonly string[] }>(entries: readonly T[], servername: string | undefined): number | undefined {
  if (!servername) return undefined;
  let wildcard: { index: number; length: number } | undefined;
  for (let i = 0; i < entries.length; i++) {
    for (const h of entries[i]!.hosts) {
      if (!hostMatches(h, servername)) continue;
      if (!h.startsWith('*.')) return i;
      if (!wildcard || h.length > wildcard.length) wildcard = { index: i, length: h.length };
    }
  }
  return wildcard?.index;
}
