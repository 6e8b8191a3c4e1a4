import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lmdbKeyValueStore, openLmdbDatabases } from '../src/index.js';
import { childScript, PACKAGE } from './helpers/child-script.js';

/**
 * `lmdbKeyValueStore().increment`: the read and the put in one lmdb write transaction, so two
 * processes (two store instances on one server.mdb, as two workers of a node) incrementing at
 * once never hand out the same number and never lose one. And `lock`: one holder at a time.
 */
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const fail = (m: string) => new Error(m);
const writeFail = (what: string, cause: Error) => new Error(`${what}: ${cause.message}`);
const PER_PROCESS = 150;

describe('lmdb key-value store: atomic increment and lock', () => {
  it('two processes incrementing one key at once: every number handed out once, none lost', async () => {
    dir = mkdtempSync(join(tmpdir(), 'store-lmdb-inc-'));
    const db = openLmdbDatabases(dir, fail);
    const kv = lmdbKeyValueStore(db.localCa, writeFail);
    await kv.put('meta:crlNumber', '0');
    const child = spawn(process.execPath, ['--input-type=module', '-e', await childScript(CHILD, 'increment-child.ts'), dir, String(PER_PROCESS)], { cwd: PACKAGE, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const lines: string[] = [];
      let buf = '';
      const go = new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          buf += d;
          if (buf.startsWith('ready\n')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`child exited ${code}: ${buf}`)));
      });
      await go;
      const childDone = new Promise<string>((resolve) => child.once('exit', () => resolve(buf)));
      // Both at once: the child starts on "go", this process right after.
      child.stdin.write('go\n');
      const mine = await Promise.all(Array.from({ length: PER_PROCESS }, () => kv.increment('meta:crlNumber')));
      lines.push(...(await childDone).split('\n').slice(1).filter(Boolean));
      const theirs = JSON.parse(lines.join('')) as string[];
      expect(theirs).toHaveLength(PER_PROCESS);
      const all = [...mine, ...theirs].map(Number).sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 2 * PER_PROCESS }, (_, i) => i + 1));
      expect(await kv.get('meta:crlNumber')).toBe(String(2 * PER_PROCESS));
    } finally {
      child.kill();
      await db.close();
    }
  }, 60_000);

  it('an absent key counts from 0; putAndIncrement writes both; lock runs one holder at a time per name', async () => {
    dir = mkdtempSync(join(tmpdir(), 'store-lmdb-inc-'));
    const db = openLmdbDatabases(dir, fail);
    const kv = lmdbKeyValueStore(db.localCa, writeFail);
    expect(await kv.increment('meta:version')).toBe('1');
    expect(await kv.increment('meta:version')).toBe('2');
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = kv.lock('crl', async () => {
      order.push('a in');
      await held;
      order.push('a out');
    });
    const second = kv.lock('crl', async () => void order.push('b'));
    const other = kv.lock('other', async () => void order.push('other'));
    await other;
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a in', 'other', 'a out', 'b']);
    // A record and a counter in one commit.
    expect(await kv.putAndIncrement('issued:01', '{"status":"revoked"}', 'meta:version')).toBe('3');
    expect([await kv.get('issued:01'), await kv.get('meta:version')]).toEqual(['{"status":"revoked"}', '3']);
    // A given lock (the server's peers.exclusive) is the one used.
    const names: string[] = [];
    const given = lmdbKeyValueStore(db.localCa, writeFail, { lock: (name, fn) => (names.push(name), fn()) });
    expect(await given.lock('crl', async () => 7)).toBe(7);
    expect(names).toEqual(['crl']);
    await db.close();
  });
});

/** The other process: this package's source bundled now (no build needed); lmdb stays external. */
const CHILD = `
import { lmdbKeyValueStore, openLmdbDatabases } from './src/index.ts';
const db = openLmdbDatabases(process.argv[1], (m) => new Error(m));
const kv = lmdbKeyValueStore(db.localCa, (w, c) => c);
const n = Number(process.argv[2]);
process.stdout.write('ready\\n');
process.stdin.once('data', async () => {
  const got = await Promise.all(Array.from({ length: n }, () => kv.increment('meta:crlNumber')));
  process.stdout.write(JSON.stringify(got) + '\\n');
  await db.close();
  process.exit(0);
});
`;

