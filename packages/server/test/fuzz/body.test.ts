import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { BodyError, readJsonObject } from '../../src/http/respond.js';
import { FUZZ_RUNS, FUZZ_SEED, mutate, rng } from './mutate.js';

/**
 * Mutation fuzzing of the Operations API body parser (readJsonObject), seeded from real operation
 * bodies. Byte mutations plus JSON-specific ones (deep nesting, huge numbers and strings, wrong
 * content-length, chunk splits). Only BodyError (400 / 413) may come out. Default 5k inputs;
 * FUZZ_RUNS=100000 for the full run.
 */
const RUNS = FUZZ_RUNS(5_000);
const LIMIT = 1024 * 1024;
const PEM = '-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUQk9HVVM=\\n-----END CERTIFICATE-----\\n';
const SEEDS = [
  { operation: 'add_user', username: 'alice', password: 'alice-pw', role: 'reader', active: true },
  { operation: 'user_info' },
  { operation: 'list_certificates' },
  { operation: 'add_certificate', name: 'client-ca', certificate: PEM, is_authority: true, private_key: null },
  { operation: 'remove_certificate', name: 'client-ca' },
  { operation: 'create_authentication_tokens', username: 'admin', password: 'x' },
  { operation: 'refresh_operation_token', refresh_token: 'eyJhbGciOiJIUzI1NiJ9.e30.abc' },
  { operation: 'alter_user', username: 'alice', role: 'super_user', active: false, extra: [1, 2.5, -0, 1e308, 'x', null, { a: { b: [] } }] },
].map((o) => JSON.stringify(o));
const enc = new TextEncoder();
const seeds = SEEDS.map((s) => enc.encode(s));

function jsonMutation(text: string, r: () => number): string {
  const int = (n: number) => Math.floor(r() * n);
  const at = int(text.length + 1);
  switch (int(6)) {
    case 0: {
      const d = r() < 0.8 ? 1 + int(500) : 10_000 + int(200_000);
      const open = r() < 0.5 ? '[' : '{"a":';
      return text.slice(0, at) + open.repeat(d) + '1' + (open === '[' ? ']' : '}').repeat(r() < 0.7 ? d : int(d)) + text.slice(at);
    }
    case 1:
      return text.replace(/\d+|true|false|null/g, (m) => (r() < 0.4 ? ['1e999', '-1e-999', '9'.repeat(5000), '0x10', 'NaN', 'Infinity', '-', '01', '1.', '"\\ud800"'][int(10)]! : m));
    case 2:
      return text.slice(0, at) + ['"__proto__":{"polluted":1},', '"constructor":{"prototype":{"x":1}},', '\\u0000', '\ufeff', '"\\uDFFF"', '\u2028', '"a":'.repeat(100), ','.repeat(50)][int(8)]! + text.slice(at);
    case 3:
      return `{"operation":"add_certificate","certificate":"${'A'.repeat(int(2) ? 1000 + int(100_000) : LIMIT + int(1000))}"}`;
    case 4:
      return r() < 0.5 ? `[${text}]` : `"${text}"`;
    default:
      return text.slice(0, at);
  }
}

/** A request-shaped stream: the body in 1-4 chunks, with an honest, a lying or no content-length. */
function fakeRequest(body: Uint8Array, r: () => number): IncomingMessage {
  const cuts = [0, ...Array.from({ length: Math.floor(r() * 4) }, () => Math.floor(r() * body.length)).sort((a, b) => a - b), body.length];
  const chunks = cuts.slice(1).map((c, i) => Buffer.from(body.subarray(cuts[i]!, c))).filter((c) => c.length);
  const req = Readable.from(chunks, { objectMode: false }) as unknown as IncomingMessage;
  const lenChoice = r();
  (req as { headers: Record<string, string> }).headers = lenChoice < 0.6 ? { 'content-length': String(body.length) } : lenChoice < 0.8 ? {} : { 'content-length': ['0', '-1', 'abc', '1e9', String(LIMIT + 1), ' 12'][Math.floor(r() * 6)]! };
  return req;
}

describe(`Operations API body parser under ${RUNS} mutated bodies`, () => {
  it('no crash, no hang over 1 s, only BodyError 400/413, and a plain object otherwise', async () => {
    const r = rng(FUZZ_SEED ^ 0xb0d1);
    const dec = new TextDecoder();
    const failures: string[] = [];
    const codes: Record<string, number> = {};
    let accepted = 0;
    let maxMs = 0;
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i++) {
      let body: Uint8Array;
      if (i % 50 === 0) body = seeds[(i / 50) % seeds.length]!;
      else if (r() < 0.5) body = mutate(seeds, r).bytes;
      else body = enc.encode(jsonMutation(r() < 0.5 ? SEEDS[Math.floor(r() * SEEDS.length)]! : dec.decode(mutate(seeds, r).bytes), r));
      const start = performance.now();
      try {
        const v = await readJsonObject(fakeRequest(body, r), LIMIT);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`not a plain object: ${typeof v}`);
        if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('prototype polluted');
        accepted++;
      } catch (err) {
        if (err instanceof BodyError && (err.status === 400 || err.status === 413)) codes[err.status] = (codes[err.status] ?? 0) + 1;
        else if (failures.length < 10) failures.push(`input ${i}: ${String((err as Error)?.stack ?? err).split('\n').slice(0, 3).join(' | ')} :: ${JSON.stringify(dec.decode(body.subarray(0, 100)))}`);
      }
      const ms = performance.now() - start;
      maxMs = Math.max(maxMs, ms);
      if (ms > 1000 && failures.length < 10) failures.push(`input ${i} took ${ms.toFixed(0)} ms`);
    }
    console.log(`fuzz readJsonObject: ${RUNS} inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s (max ${maxMs.toFixed(1)} ms/input), ${accepted} accepted, BodyError by status ${JSON.stringify(codes)}, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(0);
  }, 900_000);
});
