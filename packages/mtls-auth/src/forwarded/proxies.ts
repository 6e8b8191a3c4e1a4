import { BlockList, isIP } from 'node:net';
import { AuthError } from '../errors.js';

/** The addresses whose forwarded headers are believed (`http.trustedProxies`, SPEC.md section 7). */
export interface TrustedProxies {
  /** Whether `address` (a TCP peer address as Node reports it) is a trusted proxy; `::ffff:a.b.c.d` matches `a.b.c.d`. */
  contains(address: string | undefined): boolean;
  /** True when the list is empty (nothing is ever trusted). */
  readonly empty: boolean;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; anything else unchanged. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Why `entry` is not an IPv4/IPv6 address or CIDR (undefined when it is one). */
function problem(entry: unknown): string | undefined {
  if (typeof entry !== 'string' || entry === '') return 'expected an IPv4/IPv6 address or CIDR as a string';
  const [addr, bits, extra] = entry.split('/');
  const family = isIP(addr!);
  if (!family || extra !== undefined) return 'not an IPv4/IPv6 address or CIDR';
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128))) return `the prefix length must be 0-${family === 4 ? 32 : 128}`;
  return undefined;
}

/**
 * Compiles addresses and CIDRs (IPv4 and IPv6) into a matcher. Throws AuthError
 * ERR_AUTH_INVALID_OPTION naming the entry (`what[i]`) when one is not an address or CIDR.
 */
export function compileTrustedProxies(list: readonly string[], what = 'trustedProxies'): TrustedProxies {
  const blocks = new BlockList();
  list.forEach((entry, i) => {
    const why = problem(entry);
    if (why) throw new AuthError('ERR_AUTH_INVALID_OPTION', `${what}[${i}] = ${JSON.stringify(entry)}: ${why} (e.g. "10.0.0.0/8", "::1")`);
    const [addr, bits] = entry.split('/');
    const type = isIP(addr!) === 4 ? 'ipv4' : 'ipv6';
    // An IPv4-mapped entry (::ffff:10.0.0.1) is the IPv4 address it maps.
    const plain = type === 'ipv6' && bits === undefined ? plainAddress(addr!) : addr!;
    if (bits === undefined) blocks.addAddress(plain, isIP(plain) === 4 ? 'ipv4' : 'ipv6');
    else blocks.addSubnet(addr!, Number(bits), type);
  });
  const empty = list.length === 0;
  const memo = new Map<string, boolean>();
  return {
    empty,
    contains(address) {
      if (empty || !address) return false;
      let hit = memo.get(address);
      if (hit !== undefined) return hit;
      const plain = plainAddress(address);
      const family = isIP(plain);
      hit = family !== 0 && blocks.check(plain, family === 4 ? 'ipv4' : 'ipv6');
      if (memo.size >= 1024) memo.clear();
      memo.set(address, hit);
      return hit;
    },
  };
}
