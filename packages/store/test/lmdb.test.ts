import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lmdbKeyValueStore, lmdbWrite, openLmdbDatabases, openLmdbUserRecords } from '../src/index.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const fail = (m: string) => Object.assign(new Error(m), { code: 'X_OPEN' });

describe('the embedded lmdb engine', () => {
  it('key-value records: put, get, sorted prefix list, remove; kept across a reopen', async () => {
    dir = mkdtempSync(join(tmpdir(), 'store-lmdb-'));
    let db = openLmdbDatabases(dir, fail);
    const kv = lmdbKeyValueStore(db.localCa, (what, cause) => new Error(`${what}: ${cause.message}`));
    await kv.put('issued:02', 'b');
    await kv.put('issued:01', 'a');
    await kv.put('meta:version', '1');
    expect(await kv.list('issued:')).toEqual([['issued:01', 'a'], ['issued:02', 'b']]);
    await kv.remove('issued:02');
    await db.close();
    db = openLmdbDatabases(dir, fail);
    const again = lmdbKeyValueStore(db.localCa, (what, cause) => new Error(`${what}: ${cause.message}`));
    expect(await again.list('issued:')).toEqual([['issued:01', 'a']]);
    expect(await again.get('meta:version')).toBe('1');
    await db.close();
  });

  it('user records: create only when absent, count, list', async () => {
    dir = mkdtempSync(join(tmpdir(), 'store-lmdb-'));
    const users = openLmdbUserRecords(join(dir, 'users.mdb'), { open: fail, write: (c) => c });
    const u = { username: 'alice', role: 'super_user', active: true, passwordHash: 'h' };
    expect(await users.create(u)).toBe(true);
    expect(await users.create({ ...u, role: 'x' })).toBe(false);
    expect(users.get('alice')?.role).toBe('super_user');
    expect(users.count()).toBe(1);
    await users.remove('alice');
    expect(users.list()).toEqual([]);
    await users.close();
  });

  it("a failed write becomes the caller's error, with the cause from lmdb's commitError", async () => {
    dir = mkdtempSync(join(tmpdir(), 'store-lmdb-'));
    const commitError = Promise.reject(new Error('ENOSPC: no space left'));
    const err = await lmdbWrite(() => Promise.reject(Object.assign(new Error('Commit failed (see commitError for details)'), { commitError })), (cause) => new Error(`wrapped: ${cause.message}`)).catch((e) => e);
    expect((err as Error).message).toBe('wrapped: ENOSPC: no space left');
  });

  it('an unopenable directory is the caller\'s error, one line', () => {
    dir = mkdtempSync(join(tmpdir(), 'store-lmdb-'));
    writeFileSync(join(dir, 'a-file'), 'x');
    expect(() => openLmdbDatabases(join(dir, 'a-file', 'db'), fail)).toThrow(/cannot open the database .*a-file\/db\/server\.mdb: ENOTDIR/);
  });
});
