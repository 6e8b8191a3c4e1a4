import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});
vi.mock('@harper-tls/mtls-auth', async (importOriginal) => {
  const real = await importOriginal<typeof import('@harper-tls/mtls-auth')>();
  return { ...real, verifyPasswordHash: vi.fn(real.verifyPasswordHash), hashPassword: vi.fn(real.hashPassword) };
});
const crypto = await import('node:crypto');
const { verifyPasswordHash, hashPassword } = await import('@harper-tls/mtls-auth');
const { openUserStore } = await import('../../src/storage/user-store.js');
const { AuthError } = await import('@harper-tls/mtls-auth');

const tmp = () => join(mkdtempSync(join(tmpdir(), 'server-user-store-')), 'database', 'users.mdb');

describe('openUserStore', () => {
  it('creates, alters, lists and drops users; never returns hashes; survives reopen', async () => {
    const path = tmp();
    let store = await openUserStore({ path });
    expect(await store.create({ username: 'alice', password: 'a', role: 'super_user' })).toEqual({ username: 'alice', role: 'super_user', active: true });
    await store.create({ username: 'bob', password: 'b', role: 'user', active: false });
    await expect(store.create({ username: 'alice', password: 'x', role: 'user' })).rejects.toMatchObject({ code: 'ERR_AUTH_USER_EXISTS' });
    expect(JSON.stringify(await store.list())).not.toMatch(/scrypt|passwordHash/);
    expect(JSON.stringify(await store.get('alice'))).not.toMatch(/scrypt|passwordHash/);
    await store.close();
    expect(readdirSync(join(path, '..')).length).toBeGreaterThan(0);

    store = await openUserStore({ path });
    expect((await store.list()).map((u) => u.username).sort()).toEqual(['alice', 'bob']);
    expect(await store.verifyPassword('alice', 'a')).toEqual({ username: 'alice', role: 'super_user', active: true });
    expect(await store.verifyPassword('alice', 'b')).toBeUndefined();
    expect(await store.verifyPassword('bob', 'b')).toBeUndefined(); // inactive
    await store.alter('bob', { active: true, password: 'b2', role: 'reader' });
    expect(await store.verifyPassword('bob', 'b2')).toMatchObject({ role: 'reader', active: true });
    expect(await store.verifyPassword('bob', 'b')).toBeUndefined();
    await store.drop('bob');
    expect(await store.get('bob')).toBeUndefined();
    await expect(store.drop('bob')).rejects.toMatchObject({ code: 'ERR_AUTH_USER_NOT_FOUND' });
    await expect(store.alter('bob', { role: 'x' })).rejects.toMatchObject({ code: 'ERR_AUTH_USER_NOT_FOUND' });
    await store.close();
  });

  it('every read sees the current record, also when another process changed it (decoded records are reused only for identical bytes)', async () => {
    const path = tmp();
    const store = await openUserStore({ path });
    await store.create({ username: 'alice', password: 'a', role: 'super_user' });
    await store.create({ username: 'bob', password: 'b', role: 'user' });
    for (let i = 0; i < 3; i++) expect(await store.get('alice')).toEqual({ username: 'alice', role: 'super_user', active: true });
    const before = await store.version('alice');
    // Another process (the CLI) rewrites alice and removes bob; this store's generation() does not move.
    const script = `import { open } from 'lmdb'; const db = open({ path: ${JSON.stringify(path)}, name: undefined }); const a = db.get('alice'); await db.put('alice', { ...a, role: 'reader', active: false }); await db.remove('bob'); await db.close();`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(__dirname, '..') });
    // lmdb renews this process's read snapshot shortly after (as before this cache): wait for it, bounded.
    const deadline = Date.now() + 5000;
    while ((await store.get('alice'))?.role !== 'reader' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const generation = store.generation!();
    expect(await store.get('alice')).toEqual({ username: 'alice', role: 'reader', active: false });
    expect(await store.version('alice')).not.toBe(before);
    expect(await store.get('bob')).toBeUndefined();
    expect(store.generation!()).toBe(generation);
    await store.close();
  });

  it('an alter waiting for its password hash loses no concurrent change and never brings back a user dropped meanwhile', async () => {
    const store = await openUserStore({ path: tmp() });
    await store.create({ username: 'carol', password: 'c', role: 'super_user' });
    await store.create({ username: 'dave', password: 'd', role: 'user' });
    const realHash = vi.mocked(hashPassword).getMockImplementation()!;
    /** The next hash waits for `release()` (scrypt taking a while), after it has started. */
    const slowHash = () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let started!: () => void;
      const hashing = new Promise<void>((r) => (started = r));
      vi.mocked(hashPassword).mockImplementationOnce(async (pw) => {
        started();
        const h = await realHash(pw);
        await gate;
        return h;
      });
      return { hashing, release };
    };
    // A password change and, while it hashes, a demotion: both hold.
    let slow = slowHash();
    const passwordChange = store.alter('carol', { password: 'c2' });
    await slow.hashing;
    await store.alter('carol', { role: 'reader' });
    slow.release();
    expect(await passwordChange).toEqual({ username: 'carol', role: 'reader', active: true });
    expect(await store.verifyPassword('carol', 'c2')).toEqual({ username: 'carol', role: 'reader', active: true });
    // A drop while an alter hashes: the alter finds no user, and the user stays gone.
    slow = slowHash();
    const alter = store.alter('dave', { password: 'd2', role: 'super_user' });
    await slow.hashing;
    await store.drop('dave');
    slow.release();
    await expect(alter).rejects.toMatchObject({ code: 'ERR_AUTH_USER_NOT_FOUND' });
    expect(await store.get('dave')).toBeUndefined();
    expect((await store.list()).map((u) => u.username)).toEqual(['carol']);
    await store.close();
  });

  it('validates input with typed errors', async () => {
    const store = await openUserStore({ path: tmp() });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ username: '', password: 'x', role: 'r' }, /username/],
      [{ username: 'a'.repeat(257), password: 'x', role: 'r' }, /longer than 256/],
      [{ username: 'a\nb', password: 'x', role: 'r' }, /control characters/],
      [{ username: 'a\u0000b', password: 'x', role: 'r' }, /control characters/],
      [{ username: 'ok', password: '', role: 'r' }, /password/],
      [{ username: 'ok', password: 'x', role: '' }, /role/],
      [{ username: 'ok', password: 'x', role: 'r', active: 'yes' }, /active/],
      [{ username: 42, password: 'x', role: 'r' }, /username/],
    ];
    for (const [input, msg] of cases) {
      const err = await store.create(input as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect(err).toMatchObject({ code: 'ERR_AUTH_INVALID_INPUT' });
      expect((err as Error).message).toMatch(msg);
    }
    expect(await store.create({ username: 'a'.repeat(256), password: 'x', role: 'r' })).toMatchObject({ active: true });
    await store.close();
  });

  it('ensureAdmin creates a super_user once, generating a password when none is given', async () => {
    const store = await openUserStore({ path: tmp() });
    const first = await store.ensureAdmin({ username: 'admin' });
    expect(first.created).toBe(true);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(await store.verifyPassword('admin', first.generatedPassword!)).toMatchObject({ role: 'super_user' });
    expect(await store.ensureAdmin({ username: 'other', password: 'x' })).toEqual({ created: false });
    expect(await store.get('other')).toBeUndefined();
    const given = await openUserStore({ path: tmp() });
    expect(await given.ensureAdmin({ username: 'root', password: 'pw' })).toEqual({ created: true, generatedPassword: undefined });
    await store.close();
    await given.close();
  });

  it('ensureAdmin with an empty password (HDB_ADMIN_PASSWORD= set but empty) generates one', async () => {
    const store = await openUserStore({ path: tmp() });
    const first = await store.ensureAdmin({ username: 'admin', password: '' });
    expect(first).toEqual({ created: true, generatedPassword: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
    expect(await store.verifyPassword('admin', first.generatedPassword!)).toMatchObject({ role: 'super_user' });
    await store.close();
  });

  it('does the same work for an unknown user as for a wrong password (no user-existence oracle)', async () => {
    // Not a stopwatch (timings vary on a busy machine): both paths verify against one scrypt hash
    // of the same cost parameters (N, r, p), the unknown user's being the dummy hash.
    const store = await openUserStore({ path: tmp() });
    await store.create({ username: 'alice', password: 'a', role: 'user' });
    const work = async (u: string) => {
      vi.mocked(verifyPasswordHash).mockClear();
      expect(await store.verifyPassword(u, 'wrong')).toBeUndefined();
      return vi.mocked(verifyPasswordHash).mock.calls.map(([password, hash]) => [password, hash.split('$').slice(0, 4).join('$')]);
    };
    const known = await work('alice');
    expect(known).toEqual([['wrong', expect.stringMatching(/^scrypt\$16384\$8\$1$/)]]);
    expect(await work('nobody')).toEqual(known);
    expect(await work('x'.repeat(5000))).toEqual(known);
    await store.close();
  });
});
