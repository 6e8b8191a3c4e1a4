import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesStore, openServerDatabase, storeWrite } from '../src/database.js';
import { ServerError } from '../src/errors.js';

describe('storeWrite', () => {
  it('passes a successful write through', async () => {
    await expect(storeWrite('k', async () => 42)).resolves.toBe(42);
  });

  it("turns lmdb's failed commit into ERR_SERVER_DATABASE with the cause from commitError, and handles that promise", async () => {
    const commitError = Promise.reject(Object.assign(new Error('No space left on device'), { code: 28 }));
    const failed = Object.assign(new Error('Commit failed (see commitError for details)'), { commitError });
    const err = await storeWrite('cert:x', () => Promise.reject(failed)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).code).toBe('ERR_SERVER_DATABASE');
    expect((err as Error).message).toBe('the database could not be written (cert:x): No space left on device');
  });

  it('wraps any other write error with its own message', async () => {
    const err = await storeWrite('k', () => Promise.reject(new Error('read-only'))).catch((e: unknown) => e);
    expect((err as ServerError).code).toBe('ERR_SERVER_DATABASE');
    expect((err as Error).message).toContain('read-only');
  });
});

describe('bytesStore (the revocation cache on lmdb)', () => {
  it('round-trips small and large values; what get returns stays intact through later reads and writes (safe to keep, no copy made)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bytes-store-'));
    const db = openServerDatabase(root);
    try {
      const store = bytesStore(db.revocation);
      const big = (n: number, fill: number) => new Uint8Array(n).fill(fill);
      await store.put('a', big(3 << 20, 0xa1));
      await store.put('b', big(3 << 20, 0xb2));
      await store.put('s', big(100, 0x51));
      await store.put('t', big(200, 0x52));
      const a = (await store.get('a'))!;
      const s = (await store.get('s'))!;
      // Other reads (lmdb reuses a buffer for reads) and writes must not touch them.
      expect((await store.get('b'))!.every((x) => x === 0xb2)).toBe(true);
      expect((await store.get('t'))!.every((x) => x === 0x52)).toBe(true);
      await store.put('a', big(3 << 20, 0xcc));
      await store.put('s', big(100, 0xcd));
      await db.revocation.flushed;
      expect((await store.get('b'))!.length).toBe(3 << 20);
      expect(a.length).toBe(3 << 20);
      expect(a.every((x) => x === 0xa1)).toBe(true);
      expect(s.length).toBe(100);
      expect(s.every((x) => x === 0x51)).toBe(true);
      // A large value comes back as a plain view of one buffer, not a copy of a copy.
      expect(a.byteLength).toBe(a.buffer.byteLength);
      expect(await store.get('missing')).toBeUndefined();
    } finally {
      await db.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('writes the bytes of a view (offset into a larger buffer) exactly', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bytes-store-'));
    const db = openServerDatabase(root);
    try {
      const store = bytesStore(db.revocation);
      const whole = new Uint8Array(70_000).map((_, i) => i & 0xff);
      await store.put('v', whole.subarray(8, 69_000));
      expect(Buffer.from((await store.get('v'))!).equals(Buffer.from(whole.subarray(8, 69_000)))).toBe(true);
    } finally {
      await db.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
