import { isIPv4, isIPv6 } from 'node:net';

/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), sent by a proxy or
 * load balancer (HAProxy `send-proxy`/`send-proxy-v2`, AWS NLB) before anything else on the
 * connection, naming the client it forwards.
 *
 *   v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF, or "PROXY UNKNOWN" ... CRLF;
 *       at most 107 bytes.
 *   v2: sig[12] = \r\n\r\n\0\r\nQUIT\n, ver_cmd (0x20 LOCAL | 0x21 PROXY), fam (0x11 TCP/IPv4,
 *       0x12 UDP/IPv4, 0x21 TCP/IPv6, 0x22 UDP/IPv6, 0x31/0x32 UNIX, 0x00 UNSPEC), len (uint16 BE),
 *       then len bytes: addresses (IPv4 4+4+2+2, IPv6 16+16+2+2, UNIX 108+108) and TLVs.
 */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * `proxy`: it names a client; `local`: the proxy's own connection (health check), v2 LOCAL only;
   * `unknown`: a forwarded client the header does not name (v1 UNKNOWN, v2 PROXY with an UNSPEC or
   * UNIX address family or UNSPEC protocol).
   */
  command: 'proxy' | 'local' | 'unknown';
  /** Present when command is `proxy` with TCP/UDP over IPv4/IPv6. */
  source?: { address: string; port: number; family: 4 | 6 };
  destination?: { address: string; port: number };
}

export type ParseResult =
  | { status: 'incomplete' }
  | { status: 'done'; header: ProxyHeader; /** bytes of the header; what follows belongs to the connection */ length: number }
  | { status: 'invalid'; reason: string };

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest v1 header, CRLF included (the specification's figure). */
export const V1_MAX = 107;

const invalid = (reason: string): ParseResult => ({ status: 'invalid', reason });

/** Whether `buf` (shorter than `sig`, or not) agrees with `sig` on their common length. */
function agrees(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return false;
  return true;
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(buf: Buffer): ParseResult {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end === -1) return buf.length >= V1_MAX ? invalid(`a PROXY v1 line longer than ${V1_MAX} bytes`) : { status: 'incomplete' };
  if (end + 2 > V1_MAX) return invalid(`a PROXY v1 line longer than ${V1_MAX} bytes`);
  const line = buf.toString('latin1', 0, end);
  if (!/^[\x20-\x7e]*$/.test(line)) return invalid('a PROXY v1 line with control or non-ASCII characters');
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { status: 'done', header: { version: 1, command: 'unknown' }, length: end + 2 };
  if (parts.length !== 6) return invalid('a PROXY v1 line must be "PROXY TCP4|TCP6 src dst sport dport"');
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (!family) return invalid(`PROXY v1 protocol "${proto.slice(0, 8)}" is not TCP4, TCP6 or UNKNOWN`);
  const valid = family === 4 ? isIPv4 : isIPv6;
  if (!valid(src) || !valid(dst)) return invalid(`PROXY v1 addresses are not ${proto} addresses`);
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) return invalid('PROXY v1 ports must be 0-65535');
  return {
    status: 'done',
    header: { version: 1, command: 'proxy', source: { address: src, port: Number(sport), family }, destination: { address: dst, port: Number(dport) } },
    length: end + 2,
  };
}

function ipv6(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16));
  // The canonical short form, as Node reports socket addresses.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === -1) return groups.join(':');
  const head = groups.slice(0, best).join(':');
  const tail = groups.slice(best + bestLen).join(':');
  const text = `${head}::${tail}`;
  // ::ffff:a.b.c.d reads as Node shows IPv4-mapped addresses.
  if (best === 0 && bestLen === 5 && groups[5] === 'ffff') return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  return text;
}

function parseV2(buf: Buffer, maxBytes: number): ParseResult {
  if (buf.length < 16) return { status: 'incomplete' };
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return invalid(`PROXY v2 version ${verCmd >> 4} (expected 2)`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return invalid(`PROXY v2 command ${cmd} (expected LOCAL 0 or PROXY 1)`);
  const fam = buf[13]!;
  const af = fam >> 4;
  const proto = fam & 0x0f;
  if (af > 3 || proto > 2) return invalid(`PROXY v2 address family/protocol 0x${fam.toString(16)} is not defined`);
  const len = buf.readUInt16BE(14);
  if (16 + len > maxBytes) return invalid(`a PROXY v2 header of ${16 + len} bytes (at most ${maxBytes})`);
  if (buf.length < 16 + len) return { status: 'incomplete' };
  const length = 16 + len;
  if (cmd === 0) return { status: 'done', header: { version: 2, command: 'local' }, length };
  if (af === 0 || proto === 0) return { status: 'done', header: { version: 2, command: 'unknown' }, length };
  const need = af === 1 ? 12 : af === 2 ? 36 : 216;
  if (len < need) return invalid(`a PROXY v2 address block of ${len} bytes (family needs ${need})`);
  if (af === 3) return { status: 'done', header: { version: 2, command: 'unknown' }, length }; // UNIX sockets: no address to use
  const a = 16;
  if (af === 1) {
    return {
      status: 'done',
      header: { version: 2, command: 'proxy', source: { address: `${buf[a]}.${buf[a + 1]}.${buf[a + 2]}.${buf[a + 3]}`, port: buf.readUInt16BE(a + 8), family: 4 }, destination: { address: `${buf[a + 4]}.${buf[a + 5]}.${buf[a + 6]}.${buf[a + 7]}`, port: buf.readUInt16BE(a + 10) } },
      length,
    };
  }
  return {
    status: 'done',
    header: { version: 2, command: 'proxy', source: { address: ipv6(buf, a), port: buf.readUInt16BE(a + 32), family: 6 }, destination: { address: ipv6(buf, a + 16), port: buf.readUInt16BE(a + 34) } },
    length,
  };
}

/**
 * Parses the start of a connection. `incomplete`: wait for more bytes (the caller bounds time and
 * bytes); `invalid`: close the connection; `done`: `length` bytes were the header. Never throws.
 * @param maxBytes the largest v2 header accepted (SPEC.md section 7: 536).
 */
export function parseProxyHeader(buf: Buffer, maxBytes = 536): ParseResult {
  if (buf.length === 0) return { status: 'incomplete' };
  if (agrees(buf, V2_SIGNATURE) && buf[0] === 0x0d) return buf.length < 12 ? { status: 'incomplete' } : parseV2(buf, maxBytes);
  if (agrees(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? { status: 'incomplete' } : parseV1(buf);
  return invalid('the connection does not start with a PROXY protocol header (v1 "PROXY ..." or the v2 signature)');
}
