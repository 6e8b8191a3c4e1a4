import { describe, expect, it, vi } from 'vitest';

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual), scrypt: vi.fn(real.scrypt) };
});
const crypto = await import('node:crypto');
const { createMemoryUserStore, hashPassword, verifyPasswordHash, SCRYPT, AuthError } = await import('../src/index.js');


describe('password hashing', () => {
  it('encodes scrypt$N$r$p$salt$hash with a per-password salt, compared with timingSafeEqual', async () => {
    const a = await hashPassword('pw');
    const b = await hashPassword('pw');
    expect(a).toMatch(new RegExp(`^scrypt\\$${SCRYPT.N}\\$8\\$1\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
    expect(a).not.toBe(b);
    vi.mocked(crypto.timingSafeEqual).mockClear();
    expect(await verifyPasswordHash('pw', a)).toBe(true);
    expect(await verifyPasswordHash('pW', a)).toBe(false);
    expect(vi.mocked(crypto.timingSafeEqual)).toHaveBeenCalledTimes(2);
  });
  it('treats malformed stored hashes as a mismatch, not a crash', async () => {
    for (const bad of ['', 'scrypt', 'bcrypt$1$2$3$4$5', 'scrypt$99999999$8$1$AA$AA', 'scrypt$x$8$1$AA$AA', 'scrypt$16384$8$1$AA$']) {
      expect(await verifyPasswordHash('pw', bad)).toBe(false);
    }
  });
});

describe('createMemoryUserStore', () => {
  it('creates, alters, lists and drops users; never returns hashes; bumps generation after each write', async () => {
    const store = createMemoryUserStore();
    const g0 = store.generation!();
    expect(await store.create({ username: 'alice', password: 'a', role: 'super_user' })).toEqual({ username: 'alice', role: 'super_user', active: true });
    await store.create({ username: 'bob', password: 'b', role: 'user', active: false });
    expect(store.generation!()).toBe(g0 + 2);
    await expect(store.create({ username: 'alice', password: 'x', role: 'user' })).rejects.toMatchObject({ code: 'ERR_AUTH_USER_EXISTS' });
    expect(JSON.stringify(await store.list())).not.toMatch(/scrypt|passwordHash/);
    expect(await store.verifyPassword('alice', 'a')).toEqual({ username: 'alice', role: 'super_user', active: true });
    expect(await store.verifyPassword('alice', 'b')).toBeUndefined();
    expect(await store.verifyPassword('bob', 'b')).toBeUndefined(); // inactive
    const v = await store.version('bob');
    await store.alter('bob', { active: true, password: 'b2', role: 'reader' });
    expect(await store.version('bob')).not.toBe(v);
    expect(await store.verifyPassword('bob', 'b2')).toMatchObject({ role: 'reader', active: true });
    await store.drop('bob');
    expect(await store.get('bob')).toBeUndefined();
    expect(store.generation!()).toBe(g0 + 4);
    await expect(store.drop('bob')).rejects.toMatchObject({ code: 'ERR_AUTH_USER_NOT_FOUND' });
    await expect(store.alter('bob', { role: 'x' })).rejects.toMatchObject({ code: 'ERR_AUTH_USER_NOT_FOUND' });
  });

  it('validates input with typed errors', async () => {
    const store = createMemoryUserStore();
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
    const store = createMemoryUserStore();
    const first = await store.ensureAdmin({ username: 'admin' });
    expect(first.created).toBe(true);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(await store.verifyPassword('admin', first.generatedPassword!)).toMatchObject({ role: 'super_user' });
    expect(await store.ensureAdmin({ username: 'other', password: 'x' })).toEqual({ created: false });
    expect(await store.get('other')).toBeUndefined();
    const given = createMemoryUserStore();
    expect(await given.ensureAdmin({ username: 'root', password: 'pw' })).toEqual({ created: true, generatedPassword: undefined });
    await store.close();
    await given.close();
  });

  it('ensureAdmin with an empty password (HDB_ADMIN_PASSWORD= set but empty) generates one', async () => {
    const store = createMemoryUserStore();
    const first = await store.ensureAdmin({ username: 'admin', password: '' });
    expect(first).toEqual({ created: true, generatedPassword: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
    expect(await store.verifyPassword('admin', first.generatedPassword!)).toMatchObject({ role: 'super_user' });
    await store.close();
  });

  it('does the same work for an unknown user as for a wrong password (no user-existence oracle)', async () => {
    // Not a stopwatch (timings vary on a busy machine): the property is that both paths run one
    // scrypt with the same cost parameters and one constant-time comparison.
    const store = createMemoryUserStore();
    await store.create({ username: 'alice', password: 'a', role: 'user' });
    await store.verifyPassword('nobody', 'x'); // the dummy hash is made once, on first use
    const work = async (u: string) => {
      vi.mocked(crypto.scrypt).mockClear();
      vi.mocked(crypto.timingSafeEqual).mockClear();
      expect(await store.verifyPassword(u, 'wrong')).toBeUndefined();
      return {
        scrypt: vi.mocked(crypto.scrypt).mock.calls.map((c) => [String(c[0]).length > 0, c[2], c[3]]),
        compares: vi.mocked(crypto.timingSafeEqual).mock.calls.length,
      };
    };
    const known = await work('alice');
    expect(known).toEqual({ scrypt: [[true, SCRYPT.keylen, expect.objectContaining({ N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p })]], compares: 1 });
    expect(await work('nobody')).toEqual(known);
    expect(await work('x'.repeat(5000))).toEqual(known);
    await store.close();
  });
});
