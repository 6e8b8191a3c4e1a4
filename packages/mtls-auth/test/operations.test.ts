import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTokenService, handleAuthOperation, createMemoryUserStore, requireSuperUser, type TokenService, type UserStore } from '../src/index.js';

let users: UserStore;
let tokens: TokenService;
const admin = { username: 'admin', role: 'super_user' };
const plain = { username: 'reader', role: 'reader' };

beforeAll(async () => {
  users = createMemoryUserStore();
  await users.create({ username: 'admin', password: 'admin-pw', role: 'super_user' });
  await users.create({ username: 'reader', password: 'reader-pw', role: 'reader' });
  tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 60_000 });
});
afterAll(() => users.close());

const op = (caller: typeof admin | undefined, body: Record<string, unknown>) => handleAuthOperation({ users, tokens, caller }, body);

describe('handleAuthOperation', () => {
  it('returns undefined for operations it does not own', async () => {
    expect(await op(admin, { operation: 'add_certificate' })).toBeUndefined();
    expect(await op(admin, {})).toBeUndefined();
  });

  it('user_info for any authenticated caller, 401 otherwise', async () => {
    expect(await op(plain, { operation: 'user_info' })).toEqual({ status: 200, body: { username: 'reader', role: 'reader', active: true } });
    expect(await op(undefined, { operation: 'user_info' })).toEqual({ status: 401, body: { error: 'Login failed' }, reason: 'user_info: no authenticated caller' });
  });

  it('user operations need super_user (403 with an error body)', async () => {
    for (const name of ['add_user', 'alter_user', 'drop_user', 'list_users']) {
      const r = await op(plain, { operation: name, username: 'x', password: 'y', role: 'z' });
      expect(r?.status).toBe(403);
      expect(typeof (r?.body as { error: string }).error).toBe('string');
    }
    expect(requireSuperUser(admin)).toBe(true);
    expect(requireSuperUser(plain)).toBe(false);
    expect(requireSuperUser(undefined)).toBe(false);
    expect(requireSuperUser({ ok: true, user: { username: 'admin', role: 'super_user', active: true }, method: 'basic' })).toBe(true);
    expect(requireSuperUser({ ok: false, status: 401, error: 'Login failed', reason: 'x' })).toBe(false);
  });

  it('add, list, alter, drop; never a hash; 400 with the reason for bad fields', async () => {
    expect(await op(admin, { operation: 'add_user', username: 'dave', password: 'd', role: 'user' })).toMatchObject({ status: 200 });
    const list = await op(admin, { operation: 'list_users' });
    expect(JSON.stringify(list)).not.toMatch(/scrypt|passwordHash|"d"/);
    expect((list?.body as Array<{ username: string }>).map((u) => u.username).sort()).toEqual(['admin', 'dave', 'reader']);
    expect(await op(admin, { operation: 'add_user', username: 'dave', password: 'd', role: 'user' })).toEqual({ status: 400, body: { error: 'user "dave" already exists' } });
    expect((await op(admin, { operation: 'add_user', username: '', password: 'd', role: 'user' }))?.status).toBe(400);
    expect((await op(admin, { operation: 'add_user', username: 'eve', role: 'user' }))?.body).toEqual({ error: '"password" must be a non-empty string' });
    expect((await op(admin, { operation: 'alter_user', username: 'dave', active: 'no' }))?.status).toBe(400);
    expect((await op(admin, { operation: 'alter_user', username: 'dave', active: false }))?.status).toBe(200);
    expect((await users.get('dave'))?.active).toBe(false);
    expect((await op(admin, { operation: 'alter_user', username: 'admin', active: false }))?.status).toBe(400);
    expect((await op(admin, { operation: 'drop_user', username: 'admin' }))?.status).toBe(400);
    expect((await op(admin, { operation: 'drop_user', username: 'dave' }))?.status).toBe(200);
    expect((await op(admin, { operation: 'drop_user', username: 'dave' }))?.body).toEqual({ error: 'user "dave" does not exist' });
    expect((await op(admin, { operation: 'drop_user' }))?.status).toBe(400);
  });

  it('create_authentication_tokens with a password or an authenticated caller; refresh_operation_token', async () => {
    expect(await op(undefined, { operation: 'create_authentication_tokens', username: 'reader', password: 'nope' })).toEqual({ status: 401, body: { error: 'Login failed' }, reason: 'create_authentication_tokens: wrong password, unknown or inactive user' });
    expect((await op(undefined, { operation: 'create_authentication_tokens', username: 'reader', password: 7 }))?.status).toBe(400);
    expect((await op(undefined, { operation: 'create_authentication_tokens' }))?.status).toBe(401);
    const viaCaller = await op(plain, { operation: 'create_authentication_tokens' });
    expect(viaCaller?.status).toBe(200);
    const r = await op(undefined, { operation: 'create_authentication_tokens', username: 'reader', password: 'reader-pw' });
    const body = r?.body as { operation_token: string; refresh_token: string };
    expect(await tokens.verifyOperationToken(body.operation_token)).toBe('reader');
    const refreshed = await op(undefined, { operation: 'refresh_operation_token', refresh_token: body.refresh_token });
    expect(await tokens.verifyOperationToken((refreshed?.body as { operation_token: string }).operation_token)).toBe('reader');
    expect((await op(undefined, { operation: 'refresh_operation_token', refresh_token: body.operation_token }))?.status).toBe(401);
    expect((await op(undefined, { operation: 'refresh_operation_token' }))?.status).toBe(400);
    await users.alter('reader', { active: false });
    expect((await op(undefined, { operation: 'refresh_operation_token', refresh_token: body.refresh_token }))?.status).toBe(401);
  });
});
