/**
 * A small deterministic mutation fuzzer for byte and text inputs (no dependency): bit flips, byte
 * insert/delete, DER length-field edits, truncation, splices with other seeds and deep nesting.
 * FUZZ_RUNS sets the inputs per target (default below), FUZZ_SEED the PRNG seed.
 */
export const FUZZ_RUNS = (dflt: number): number => {
  const n = Number(process.env.FUZZ_RUNS ?? dflt);
  return Number.isInteger(n) && n > 0 ? n : dflt;
};
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

/** mulberry32 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Op = 'flip' | 'insert' | 'delete' | 'length' | 'truncate' | 'splice' | 'nest' | 'dup';
export const OPS: Op[] = ['flip', 'insert', 'delete', 'length', 'truncate', 'splice', 'nest', 'dup'];

/** One mutated copy of a random seed: 1-4 stacked operations. Returns the bytes and the ops applied. */
export function mutate(seeds: Uint8Array[], r: () => number): { bytes: Uint8Array; ops: Op[] } {
  const int = (n: number) => Math.floor(r() * n);
  let b: Uint8Array = Uint8Array.from(seeds[int(seeds.length)]!);
  const ops: Op[] = [];
  const count = 1 + int(4);
  for (let k = 0; k < count; k++) {
    const op = OPS[int(OPS.length)]!;
    ops.push(op);
    const at = int(b.length + 1);
    switch (op) {
      case 'flip': {
        const flips = 1 + int(8);
        for (let j = 0; j < flips && b.length; j++) b[int(b.length)]! ^= 1 << int(8);
        break;
      }
      case 'insert': {
        const ins = Uint8Array.from({ length: 1 + int(8) }, () => (r() < 0.3 ? [0x00, 0x30, 0x80, 0xff, 0x02, 0x04, 0x06, 0xa0][int(8)]! : int(256)));
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 'delete':
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(16))));
        break;
      case 'length': {
        // Pick a byte that looks like a constructed/primitive tag and rewrite the length after it.
        const starts: number[] = [];
        for (let i = 0; i + 1 < b.length && starts.length < 4096; i++) if ([0x30, 0x31, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x17, 0x18, 0xa0, 0xa1, 0xa2, 0xa3].includes(b[i]!)) starts.push(i);
        if (!starts.length) break;
        const i = starts[int(starts.length)]!;
        const choices = [
          [int(128)],
          [0x80],
          [0x81, int(256)],
          [0x82, int(256), int(256)],
          [0x84, 0xff, 0xff, 0xff, 0xff],
          [0x84, 0x7f, 0xff, 0xff, 0xff],
          [0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
          [0x82, 0x00, 0x05],
          [0xff],
        ];
        const len = choices[int(choices.length)]!;
        // Replace the existing length octets (short or long form) by the new ones.
        const first = b[i + 1]!;
        const old = first < 0x80 ? 1 : 1 + (first & 0x7f);
        b = concat(b.subarray(0, i + 1), Uint8Array.from(len), b.subarray(Math.min(b.length, i + 1 + old)));
        break;
      }
      case 'truncate':
        b = b.subarray(0, int(b.length + 1)).slice();
        break;
      case 'splice': {
        const other = seeds[int(seeds.length)]!;
        const from = int(other.length + 1);
        const piece = other.subarray(from, from + int(256));
        b = r() < 0.5 ? concat(b.subarray(0, at), piece, b.subarray(at)) : concat(b.subarray(0, at), piece, b.subarray(Math.min(b.length, at + piece.length)));
        break;
      }
      case 'nest': {
        // Deep nesting: wrap (part of) the input in up to 20k SEQUENCE / context headers.
        const depth = r() < 0.9 ? 1 + int(64) : 1000 + int(20_000);
        const tag = [0x30, 0xa0, 0x31, 0x24][int(4)]!;
        const indefinite = r() < 0.3;
        const parts: number[] = [];
        let inner = b.length;
        const heads: number[][] = [];
        for (let d = 0; d < depth; d++) {
          const h = indefinite ? [tag, 0x80] : [tag, ...derLen(inner)];
          heads.push(h);
          inner += h.length;
        }
        for (let d = heads.length - 1; d >= 0; d--) parts.push(...heads[d]!);
        b = concat(Uint8Array.from(parts), b);
        break;
      }
      case 'dup': {
        const from = int(b.length + 1);
        const piece = b.slice(from, from + int(512));
        b = concat(b.subarray(0, at), piece, b.subarray(at));
        break;
      }
    }
  }
  return { bytes: b, ops };
}

function derLen(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | out.length, ...out];
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface FuzzStats {
  target: string;
  inputs: number;
  accepted: number;
  rejected: number;
  codes: Record<string, number>;
  maxMs: number;
  totalMs: number;
  failures: string[];
}

/**
 * Runs `fn` on `runs` mutated inputs. An input passes when `fn` returns or throws an error for which
 * `typed(err)` returns a code; anything else (TypeError, RangeError: stack overflow, ...) and any
 * input over `hangMs` is a failure (recorded with the seed index, the ops and a hex prefix).
 */
export function fuzz(target: string, seeds: Uint8Array[], runs: number, fn: (b: Uint8Array) => unknown, typed: (err: unknown) => string | undefined, hangMs = 1000): FuzzStats {
  const r = rng(FUZZ_SEED ^ hash(target));
  const s: FuzzStats = { target, inputs: 0, accepted: 0, rejected: 0, codes: {}, maxMs: 0, totalMs: 0, failures: [] };
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    // 1 in 50 inputs is an unmutated seed (checks the seeds parse).
    const { bytes, ops } = i % 50 === 0 ? { bytes: seeds[(i / 50) % seeds.length]!, ops: [] as Op[] } : mutate(seeds, r);
    const start = performance.now();
    try {
      fn(bytes);
      s.accepted++;
    } catch (err) {
      const code = typed(err);
      if (code) {
        s.rejected++;
        s.codes[code] = (s.codes[code] ?? 0) + 1;
      } else if (s.failures.length < 10) {
        s.failures.push(`input ${i} [${ops.join(',')}] ${String((err as Error)?.stack ?? err).split('\n').slice(0, 4).join(' | ')} :: ${Buffer.from(bytes.subarray(0, 48)).toString('hex')}`);
      }
    }
    const ms = performance.now() - start;
    if (ms > s.maxMs) s.maxMs = ms;
    if (ms > hangMs && s.failures.length < 10) s.failures.push(`input ${i} [${ops.join(',')}] took ${ms.toFixed(0)} ms`);
    s.inputs++;
  }
  s.totalMs = performance.now() - t0;
  return s;
}

export function report(s: FuzzStats): string {
  return `fuzz ${s.target}: ${s.inputs} inputs in ${(s.totalMs / 1000).toFixed(1)} s (max ${s.maxMs.toFixed(1)} ms/input), ${s.accepted} accepted, ${s.rejected} typed errors ${JSON.stringify(s.codes)}, ${s.failures.length} failures`;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
