import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { lmdbBytesStore, openLmdbDatabases, type LmdbDatabases } from '../src/index.js';
import { childScript, PACKAGE } from './helpers/child-script.js';

/**
 * `lmdbBytesStore().getMapped`: big values as views of lmdb's memory map, valid (unchanged)
 * until released whatever is written meanwhile, given back on release so the file stops
 * growing, and the same pages in every process that maps the file.
 */
let dir: string;
let db: LmdbDatabases | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
  rmSync(dir, { recursive: true, force: true });
});
const fail = (m: string) => Object.assign(new Error(m), { code: 'X_OPEN' });
const writeFail = (what: string, cause: Error) => new Error(`${what}: ${cause.message}`);
const BIG = 20 * 1024 * 1024;
/** A value whose bytes say which generation it is (and where they are). */
function generation(g: number, size = BIG): Uint8Array {
  const v = new Uint8Array(size);
  const w = new DataView(v.buffer);
  for (let i = 0; i + 8 <= size; i += 4096) w.setUint32(i, g, true), w.setUint32(i + 4, i, true);
  return v;
}
function isGeneration(v: Uint8Array, g: number): boolean {
  const w = new DataView(v.buffer, v.byteOffset, v.byteLength);
  for (let i = 0; i + 8 <= v.length; i += 4096) if (w.getUint32(i, true) !== g || w.getUint32(i + 4, true) !== i) return false;
  return true;
}
const turn = () => new Promise((r) => setTimeout(r, 5));
const fileSize = () => statSync(join(dir, 'server.mdb')).size;

function open() {
  dir = mkdtempSync(join(tmpdir(), 'store-mapped-'));
  db = openLmdbDatabases(dir, fail);
  return lmdbBytesStore(db.revocation, writeFail);
}

describe('lmdb mapped values', () => {
  it('a small value is a private copy (lmdb reuses its read buffer), release a no-op', async () => {
    const store = open();
    await store.put('a', new Uint8Array([1, 2, 3]));
    await store.put('b', new Uint8Array([4, 5]));
    const a = await store.getMapped('a');
    const b = await store.getMapped('b');
    expect(a).toMatchObject({ mapped: false });
    expect([...a!.bytes]).toEqual([1, 2, 3]);
    expect([...b!.bytes]).toEqual([4, 5]);
    a!.release();
    expect(await store.getMapped('none')).toBeUndefined();
  });

  it('a big value is a view of the map, unchanged across event turns and rewrites until released', async () => {
    const store = open();
    await store.put('crl', generation(1));
    const m = (await store.getMapped('crl'))!;
    expect(m.mapped).toBe(true);
    expect((m.bytes.buffer as ArrayBuffer & { isSharedMap?: boolean }).isSharedMap).toBe(true);
    for (let g = 2; g <= 6; g++) {
      await store.put('crl', generation(g));
      await turn();
      expect(isGeneration(m.bytes, 1)).toBe(true);
      const now = (await store.getMapped('crl'))!;
      expect(isGeneration(now.bytes, g)).toBe(true);
      now.release();
    }
    m.release();
    m.release(); // twice: nothing more
  });

  it('each generation held until the next replaces it: every read right, and the file stops growing', async () => {
    const store = open();
    let held = (await store.put('crl', generation(0)), (await store.getMapped('crl'))!);
    const sizes: number[] = [];
    for (let g = 1; g <= 30; g++) {
      await store.put('crl', generation(g));
      await turn();
      const next = (await store.getMapped('crl'))!;
      expect(isGeneration(held.bytes, g - 1)).toBe(true);
      expect(isGeneration(next.bytes, g)).toBe(true);
      held.release();
      held = next;
      sizes.push(fileSize());
    }
    held.release();
    // Pages freed by released generations are reused: bounded by a few values, flat from the 10th on.
    expect(sizes.at(-1)!).toBeLessThan(8 * BIG);
    expect(sizes.at(-1)).toBe(sizes[9]);
  });

  it('never released, every rewrite grows the file (why the caller must release)', async () => {
    const store = open();
    const kept = [];
    await store.put('crl', generation(0));
    for (let g = 1; g <= 6; g++) {
      kept.push((await store.getMapped('crl'))!);
      await store.put('crl', generation(g));
      await turn();
    }
    expect(fileSize()).toBeGreaterThan(6 * BIG);
    kept.forEach((k, i) => expect(isGeneration(k.bytes, i)).toBe(true));
    for (const k of kept) k.release();
  });

  it('once a big value is written, lmdb keeps no reference to the caller\'s memory', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = open();
    const buffers = () => {
      gc();
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const before = buffers();
    await store.put('crl', generation(3, 40 * 1024 * 1024));
    // The caller dropped its value: it is gone after a GC (lmdb-js alone would hold the last value written until its next write).
    expect(buffers() - before).toBeLessThan(8 * 1024 * 1024);
    const m = (await store.getMapped('crl'))!;
    expect(isGeneration(m.bytes, 3)).toBe(true);
    m.release();
  });

  it('another process mapping the value shares its pages with this one', async () => {
    const store = open();
    await store.put('crl', generation(7));
    const m = (await store.getMapped('crl'))!;
    expect(isGeneration(m.bytes, 7)).toBe(true);
    const child = spawn(process.execPath, ['--input-type=module', '-e', await childScript(CHILD, 'mapped-child.ts'), dir], { cwd: PACKAGE, stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const ready = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.trim());
        });
        child.on('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
      });
      expect(ready).toBe('mapped 7');
      // This process's mapping of server.mdb: the value's pages are resident and shared (the child has them too).
      const shared = mappingOf(`/proc/self/smaps`, join(dir, 'server.mdb'));
      expect(shared.rss).toBeGreaterThanOrEqual(BIG);
      expect(shared.shared).toBeGreaterThanOrEqual(BIG);
      expect(shared.pss).toBeLessThan(shared.rss * 0.75);
    } finally {
      child.stdin.end();
      await exited;
      m.release();
    }
  }, 30_000);
});

/** Sum of Rss, Shared_* and Pss (bytes) over the mappings of `file` in an smaps file. */
function mappingOf(smaps: string, file: string): { rss: number; shared: number; pss: number } {
  const out = { rss: 0, shared: 0, pss: 0 };
  let inFile = false;
  for (const line of readFileSync(smaps, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.endsWith(file);
    else if (inFile) {
      const m = /^(\w+):\s+(\d+) kB/.exec(line);
      if (!m) continue;
      const kb = Number(m[2]) * 1024;
      if (m[1] === 'Rss') out.rss += kb;
      if (m[1] === 'Pss') out.pss += kb;
      if (m[1] === 'Shared_Clean' || m[1] === 'Shared_Dirty') out.shared += kb;
    }
  }
  return out;
}

/**
 * The other process: maps the value with this package's own source (bundled now, so the test
 * needs no build), reads every page, says so, waits for stdin to close. lmdb (native) stays
 * external and resolves from the package folder, the child's cwd.
 */
const CHILD = `
import { lmdbBytesStore, openLmdbDatabases } from './src/index.ts';
const db = openLmdbDatabases(process.argv[1], (m) => new Error(m));
const store = lmdbBytesStore(db.revocation, (w, c) => c);
const m = await store.getMapped('crl');
let sum = 0;
for (let i = 0; i < m.bytes.length; i += 4096) sum += m.bytes[i];
const g = new DataView(m.bytes.buffer, m.bytes.byteOffset).getUint32(0, true);
process.stdout.write((m.mapped ? 'mapped ' : 'copied ') + g + '\\n');
process.stdin.resume();
process.stdin.on('end', async () => { m.release(); await db.close(); process.exit(0); });
`;
