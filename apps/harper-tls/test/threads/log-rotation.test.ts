import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fresh, startCluster, until, type Cluster } from './cluster.js';

/**
 * hdb.log with two workers (SPEC.md sections 8 and 11): the primary alone rotates by size, every
 * worker then writes the new file, no line is lost or torn, and the rotated files are as many
 * as their sizes imply (one rotating process, not one per worker).
 */
const MAX = 16 * 1024;
let c: Cluster | undefined;
afterEach(async () => {
  await c?.cleanup();
  c = undefined;
});

const start = (compress: boolean) =>
  startCluster({
    logging: (root) => ['logging:', '  level: info', '  auditAuthEvents:', '    logFailed: true', '  rotation:', '    enabled: true', `    compress: ${compress}`, '    maxSize: 16K', `    path: ${join(root, 'log', 'rotated')}`],
  });

/** `n` requests with a failed Basic login each (one audit line naming `user`), a few at a time. */
async function markers(c: Cluster, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 8) {
    const rs = await Promise.all(Array.from({ length: Math.min(8, n - i) }, (_, k) => fresh({ port: c.ports.ops, body: { operation: 'user_info' }, auth: `${tag}-${i + k}:wrong` })));
    expect(rs.map((r) => r.status)).toEqual(rs.map(() => 401));
  }
}

const rotatedDir = (c: Cluster) => join(c.root, 'log', 'rotated');
const rotatedFiles = (c: Cluster) => (existsSync(rotatedDir(c)) ? readdirSync(rotatedDir(c)).sort() : []);

/** Every log file's text (rotated ones unzipped), each checked to be whole JSON lines. */
function readAll(c: Cluster): Array<{ name: string; bytes: number; lines: any[] }> {
  const files = [...rotatedFiles(c).map((f) => join(rotatedDir(c), f)), join(c.root, 'log', 'hdb.log')];
  return files.map((f) => {
    const raw = readFileSync(f);
    const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    if (text.length) expect(text.endsWith('\n'), `${f} ends in the middle of a line`).toBe(true);
    const lines = text.split('\n').slice(0, -1).map((l, i) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`${f} line ${i + 1} is not a whole JSON line: ${l.slice(0, 200)}`);
      }
    });
    return { name: f, bytes: Buffer.byteLength(text), lines };
  });
}

async function rotatesOnce(compress: boolean) {
  c = await start(compress);
  const n = 600;
  await markers(c, 'm', n);
  const name = compress ? /^hdb-\d{8}-\d{6}-\d+\.log\.gz$/ : /^hdb-\d{8}-\d{6}-\d+\.log$/;
  await until(() => rotatedFiles(c!).filter((f) => name.test(f)).length >= 3, 'three rotated files');
  // SIGTERM: every worker's last lines reach the file before the processes exit.
  expect(await c.stop()).toBe(0);
  expect(rotatedFiles(c).filter((f) => !name.test(f)), 'only rotated files, nothing half done').toEqual([]);
  const files = readAll(c);
  const all = files.flatMap((f) => f.lines);
  const marks = all.filter((l) => l.msg === 'authentication failed (audit)' && /^m-\d+$/.test(l.user));
  // Nothing lost, nothing written twice.
  expect(marks.length).toBe(n);
  expect(new Set(marks.map((l) => l.user)).size).toBe(n);
  // Both workers wrote, each line says which.
  expect(new Set(marks.map((l) => l.worker))).toEqual(new Set([0, 1]));
  for (const w of [0, 1]) expect(all.some((l) => l.worker === w && /worker stopping/.test(l.msg)), `worker ${w}'s last line`).toBe(true);
  // One process rotates: each rotated file reached maxSize before it was rotated (two rotators would
  // leave files far smaller), and their number is what the sizes allow.
  const rotated = files.slice(0, -1);
  for (const f of rotated) expect(f.bytes, `${f.name} was rotated before it reached maxSize`).toBeGreaterThanOrEqual(MAX);
  const total = files.reduce((a, f) => a + f.bytes, 0);
  expect(rotated.length).toBeLessThanOrEqual(Math.floor(total / MAX));
  expect(rotated.length).toBeGreaterThanOrEqual(3);
  // After each rotation both workers wrote the new file (none kept writing a renamed one only).
  for (const f of rotated.slice(1)) expect(new Set(f.lines.filter((l) => l.worker !== undefined).map((l) => l.worker)), `${f.name}: both workers after a rotation`).toEqual(new Set([0, 1]));
}

describe('threads.count 2: hdb.log rotation by the primary alone', { timeout: 180_000 }, () => {
  it('rotates by size, every line whole and counted once, both workers in every file after a rotation', () => rotatesOnce(false));

  it('gzips the rotated files', () => rotatesOnce(true));

  it('a rotation that fails (the rotation folder cannot be made) is said once on stderr; serving and logging go on; it recovers', async () => {
    c = await start(false);
    await markers(c, 'a', 16);
    rmSync(rotatedDir(c), { recursive: true, force: true });
    writeFileSync(rotatedDir(c), 'not a folder');
    await markers(c, 'b', 300);
    await until(() => /log rotation failed/.test(c!.child.stderr()), 'the rotation failure on stderr');
    await markers(c, 'c', 100);
    expect(c.child.stderr().match(/log rotation failed/g)).toHaveLength(1);
    expect(statSync(join(c.root, 'log', 'hdb.log')).size).toBeGreaterThan(MAX);
    // The folder can be made again: the next attempt rotates.
    rmSync(rotatedDir(c));
    await until(() => rotatedFiles(c!).length >= 1, 'a rotation once the folder can be made', 20_000);
    await markers(c, 'd', 16);
    expect(await c.stop()).toBe(0);
    const all = readAll(c).flatMap((f) => f.lines);
    for (const [tag, n] of [['b', 300], ['c', 100], ['d', 16]] as const) {
      expect(all.filter((l) => new RegExp(`^${tag}-\\d+$`).test(l.user)).length, `${tag} lines`).toBe(n);
    }
  });

  it('the log folder removed: the primary notices, every process opens hdb.log again, the server keeps serving', async () => {
    c = await start(false);
    await markers(c, 'a', 16);
    rmSync(join(c.root, 'log'), { recursive: true, force: true });
    await until(() => /was removed; every process reopens it/.test(c!.child.stderr()), 'the removal noticed');
    await until(() => existsSync(join(c!.root, 'log', 'hdb.log')), 'hdb.log created again');
    await markers(c, 'e', 40);
    expect(await c.stop()).toBe(0);
    const lines = readAll(c).flatMap((f) => f.lines);
    const e = lines.filter((l) => /^e-\d+$/.test(l.user));
    expect(e.length).toBe(40);
    expect(new Set(e.map((l) => l.worker))).toEqual(new Set([0, 1]));
    expect(c.child.stderr().match(/was removed; every process reopens it/g)).toHaveLength(1);
  });
});
