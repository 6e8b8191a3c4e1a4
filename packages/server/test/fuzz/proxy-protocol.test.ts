import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { parseProxyHeader, V1_MAX, V2_SIGNATURE } from '../../src/http/proxy-protocol/parse.js';
import { FUZZ_RUNS, FUZZ_SEED, mutate, rng } from './mutate.js';

/**
 * The PROXY protocol parser (harper-tls's own, so it is a fuzz target): mutated real headers
 * (HAProxy's v1 and v2, IPv4, IPv6, LOCAL, UNKNOWN, with TLVs and with a TLS ClientHello behind)
 * plus random bytes. It must never throw, never read past what it was given, and every header it
 * accepts must be consistent (valid addresses and ports, within the byte bounds, the same answer
 * for exactly its own bytes, and "incomplete" for every shorter prefix, so a header split over
 * TCP segments reads the same). Default 100,000 inputs (FUZZ_RUNS to change).
 */
const RUNS = FUZZ_RUNS(100_000);
const MAX = 536;

function v2(cmd: number, fam: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  V2_SIGNATURE.copy(h);
  h[12] = 0x20 | cmd;
  h[13] = fam;
  h.writeUInt16BE(body.length, 14);
  return Buffer.concat([h, body]);
}
const ipv4Body = Buffer.from([203, 0, 113, 7, 127, 0, 0, 1, 0x15, 0xb3, 0x01, 0xbb]);
const ipv6Body = Buffer.concat([Buffer.from('20010db8000000000000000000000001', 'hex'), Buffer.from('00000000000000000000000000000001', 'hex'), Buffer.from([0x15, 0xb3, 0x01, 0xbb])]);
const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x20, 0x00, 0x05, 0x07, 0x00, 0x00, 0x00, 0x00]); // ALPN "h2", SSL TLV
const clientHello = Buffer.from('16030100c4010000c00303', 'hex');
const SEEDS = [
  Buffer.from('PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n'),
  Buffer.from('PROXY TCP6 2001:db8::1 ::1 5555 443\r\n'),
  Buffer.from('PROXY UNKNOWN\r\n'),
  Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'),
  Buffer.concat([Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n'), clientHello]),
  v2(1, 0x11, ipv4Body),
  v2(1, 0x21, ipv6Body),
  v2(0, 0x00, Buffer.alloc(0)),
  v2(1, 0x11, Buffer.concat([ipv4Body, tlv])),
  Buffer.concat([v2(1, 0x11, ipv4Body), clientHello]),
  v2(1, 0x31, Buffer.alloc(216)),
].map((b) => new Uint8Array(b));

function check(buf: Buffer): string | undefined {
  const r = parseProxyHeader(buf, MAX);
  if (r.status === 'incomplete') return buf.length >= MAX && buf.subarray(0, 12).equals(V2_SIGNATURE) === false && buf.subarray(0, 6).toString('latin1') !== 'PROXY ' ? 'incomplete for bytes that are no header' : undefined;
  if (r.status === 'invalid') return typeof r.reason === 'string' && r.reason.length > 0 ? undefined : 'invalid without a reason';
  if (r.status !== 'done') return `unknown status ${(r as { status: string }).status}`;
  if (!(r.length > 0 && r.length <= buf.length)) return `length ${r.length} outside the input (${buf.length})`;
  if (r.header.version === 1 && r.length > V1_MAX) return `v1 header of ${r.length} bytes`;
  if (r.length > MAX) return `header of ${r.length} bytes`;
  const s = r.header.source;
  if (r.header.command === 'proxy') {
    if (!s || isIP(s.address) !== s.family) return `source ${JSON.stringify(s)} is not an address of its family`;
    if (!(s.port >= 0 && s.port <= 65535) || !(r.header.destination!.port >= 0 && r.header.destination!.port <= 65535)) return 'port out of range';
    if (isIP(r.header.destination!.address) === 0) return 'destination is not an address';
  } else if (s) return 'a local header with a source';
  const again = parseProxyHeader(Buffer.from(buf.subarray(0, r.length)), MAX);
  if (JSON.stringify(again) !== JSON.stringify(r)) return 'its own bytes parse differently';
  const cut = Math.floor((buf[0]! * 7 + r.length * 13) % r.length);
  if (parseProxyHeader(Buffer.from(buf.subarray(0, cut)), MAX).status !== 'incomplete') return `a prefix of ${cut} bytes is not incomplete`;
  return undefined;
}

describe(`PROXY protocol parser under ${RUNS} inputs`, () => {
  it('never throws; accepted headers are consistent; prefixes are incomplete', () => {
    const r = rng(FUZZ_SEED ^ 0x9809);
    const failures: string[] = [];
    const counts = { done: 0, invalid: 0, incomplete: 0 };
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i++) {
      let buf: Buffer;
      if (i % 100 === 0) buf = Buffer.from(SEEDS[(i / 100) % SEEDS.length]!);
      else if (i % 10 === 1) buf = Buffer.from(Array.from({ length: Math.floor(r() * 700) }, () => Math.floor(r() * 256)));
      else buf = Buffer.from(mutate(SEEDS, r).bytes);
      try {
        const why = check(buf);
        counts[parseProxyHeader(buf, MAX).status]++;
        if (why && failures.length < 10) failures.push(`input ${i}: ${why} :: ${buf.subarray(0, 80).toString('hex')}`);
      } catch (err) {
        if (failures.length < 10) failures.push(`input ${i} threw ${(err as Error).stack?.split('\n').slice(0, 2).join(' | ')} :: ${buf.subarray(0, 80).toString('hex')}`);
      }
    }
    console.log(`fuzz parseProxyHeader: ${RUNS} inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${JSON.stringify(counts)}, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect(counts.done).toBeGreaterThan(RUNS / 100);
    expect(counts.invalid).toBeGreaterThan(0);
  }, 600_000);

  it('round trip (fast-check): every v1/v2 header HAProxy could send reads back its addresses, whatever follows it', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
    const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 });
    const port = fc.nat(65535);
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), v4, v6, port, port, fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 100 }), (isV2, six, a4, a6, sp, dp, tlvs, rest) => {
        const src4 = a4.join('.');
        const six16 = Buffer.alloc(16);
        a6.forEach((g, i) => six16.writeUInt16BE(g, i * 2));
        let head: Buffer;
        if (!isV2) head = Buffer.from(six ? `PROXY TCP6 ${a6.map((g) => g.toString(16)).join(':')} ::1 ${sp} ${dp}\r\n` : `PROXY TCP4 ${src4} 127.0.0.1 ${sp} ${dp}\r\n`);
        else {
          const ports = Buffer.alloc(4);
          ports.writeUInt16BE(sp, 0);
          ports.writeUInt16BE(dp, 2);
          head = six ? v2(1, 0x21, Buffer.concat([six16, Buffer.alloc(16), ports, tlvs])) : v2(1, 0x11, Buffer.concat([Buffer.from(a4), Buffer.from([127, 0, 0, 1]), ports, tlvs]));
        }
        const res = parseProxyHeader(Buffer.concat([head, rest]), MAX);
        expect(res.status).toBe('done');
        if (res.status !== 'done') return;
        expect(res.length).toBe(head.length);
        const got = res.header.source!;
        expect(got.port).toBe(sp);
        if (!six) expect(got.address).toBe(src4);
        else {
          expect(isIP(got.address)).toBe(6);
          // The same 16 bytes as the ones sent (URL parsing normalises both texts).
          expect(new URL(`http://[${got.address}]/`).hostname).toBe(new URL(`http://[${a6.map((g) => g.toString(16)).join(':')}]/`).hostname);
        }
      }),
      { numRuns: 2000, seed: FUZZ_SEED },
    );
  });
});
