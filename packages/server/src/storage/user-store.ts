/**
 * The lmdb implementation of mtls-auth's UserStore. It lives in the server, where the storage
 * lives, so a user of @harper-tls/mtls-auth never installs lmdb (docs/ARCHITECTURE.md).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { open, type RootDatabase } from 'lmdb';
import { AuthError, checkPassword, checkRole, checkUsername, dummyHash, hashPassword, verifyPasswordHash, type User, type UserStore } from '@harper-tls/mtls-auth';

interface StoredUser extends User {
  passwordHash: string;
}

/** Usernames longer than this are not looked up (checkUsername refuses them on create). */
const MAX_NAME = 256;


const publicUser = (u: StoredUser): User => ({ username: u.username, role: u.role, active: u.active });

/**
 * Runs an lmdb write and turns its failure into one typed error. lmdb rejects a failed commit with
 * "Commit failed (see commitError for details)" and a second promise, `commitError`, that rejects
 * with the cause (ENOSPC, EACCES...); left unhandled, that second rejection would crash the process.
 */
async function write<T>(path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    let cause = err as Error & { commitError?: Promise<unknown> };
    if (cause?.commitError && typeof cause.commitError.then === 'function') {
      const detail = await Promise.race([cause.commitError.then(() => undefined, (e: unknown) => e), new Promise((r) => setTimeout(r, 1000).unref())]);
      if (detail instanceof Error) cause = detail;
    }
    throw new AuthError('ERR_AUTH_STORE', `the user store ${path} could not be written: ${cause?.message ?? String(cause)}`, { cause: err });
  }
}

/**
 * Users in an lmdb database at `path` (the server uses `<ROOTPATH>/database/users.mdb`), with
 * scrypt password hashes. lmdb is multi-process safe, so CLI commands can read it while the
 * server runs.
 */
export async function openUserStore(opts: { path: string }): Promise<UserStore> {
  mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
  let db: RootDatabase<StoredUser, string>;
  try {
    db = open<StoredUser, string>({ path: opts.path, name: undefined });
  } catch (err) {
    throw new AuthError('ERR_AUTH_STORE', `cannot open the user store at ${opts.path}: ${(err as Error).message}`, { cause: err });
  }
  const getStored = (username: string) => db.get(username) as StoredUser | undefined;
  // Bumped after each write settles (never before: a reader must not pair the new number with old data).
  let generation = 0;
  const store: UserStore = {
    async get(username) {
      const u = typeof username === 'string' ? getStored(username) : undefined;
      return u ? publicUser(u) : undefined;
    },
    async create(input) {
      const username = checkUsername(input.username);
      const password = checkPassword(input.password);
      const role = checkRole(input.role);
      if (input.active !== undefined && typeof input.active !== 'boolean') throw new AuthError('ERR_AUTH_INVALID_INPUT', '"active" must be true or false');
      const user: StoredUser = { username, role, active: input.active ?? true, passwordHash: await hashPassword(password) };
      // The put inside the conditional block settles with the block; its own promise only repeats the outcome.
      const ok = await write(opts.path, () => db.ifNoExists(username, () => void db.put(username, user).catch(() => {}))).finally(() => generation++);
      if (!ok) throw new AuthError('ERR_AUTH_USER_EXISTS', `user "${username}" already exists`);
      return publicUser(user);
    },
    async alter(username, changes) {
      const current = getStored(checkUsername(username));
      if (!current) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', `user "${username}" does not exist`);
      const next: StoredUser = { ...current };
      if (changes.password !== undefined) next.passwordHash = await hashPassword(checkPassword(changes.password));
      if (changes.role !== undefined) next.role = checkRole(changes.role);
      if (changes.active !== undefined) {
        if (typeof changes.active !== 'boolean') throw new AuthError('ERR_AUTH_INVALID_INPUT', '"active" must be true or false');
        next.active = changes.active;
      }
      await write(opts.path, () => db.put(username, next)).finally(() => generation++);
      return publicUser(next);
    },
    async drop(username) {
      // lmdb's remove() resolves true even for a missing key, so look first.
      if (!getStored(checkUsername(username))) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', `user "${username}" does not exist`);
      await write(opts.path, () => db.remove(username)).finally(() => generation++);
    },
    async list() {
      return [...db.getRange({})].map(({ value }) => publicUser(value));
    },
    async verifyPassword(username, password) {
      const u = typeof username === 'string' && username.length <= MAX_NAME ? getStored(username) : undefined;
      if (!u) {
        await verifyPasswordHash(String(password), await dummyHash());
        return undefined;
      }
      const ok = await verifyPasswordHash(String(password), u.passwordHash);
      return ok && u.active ? publicUser(u) : undefined;
    },
    async version(username) {
      const u = getStored(username);
      return u ? `${u.passwordHash}|${u.role}|${u.active}` : undefined;
    },
    generation: () => generation,
    async ensureAdmin({ username, password }) {
      if (db.getKeysCount() > 0) return { created: false };
      const generated = password ? undefined : randomBytes(18).toString('base64url');
      await store.create({ username, password: password ?? generated!, role: 'super_user', active: true });
      return { created: true, generatedPassword: generated };
    },
    async close() {
      await db.close();
    },
  };
  return store;
}
