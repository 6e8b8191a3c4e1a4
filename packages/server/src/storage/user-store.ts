/**
 * The lmdb implementation of mtls-auth's UserStore. It lives in the server, where the storage
 * lives, so a user of @harper-tls/mtls-auth never installs lmdb (docs/ARCHITECTURE.md). The
 * checks and hashing are `userStoreOver` (storage/user-records.ts), shared with the cluster engine.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { AuthError, type UserStore } from '@harper-tls/mtls-auth';
import { userStoreOver, type StoredUser } from './user-records.js';

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
  return userStoreOver({
    get: (username) => db.get(username) as StoredUser | undefined,
    list: () => [...db.getRange({})].map(({ value }) => value),
    count: () => db.getKeysCount(),
    // The put inside the conditional block settles with the block; its own promise only repeats the outcome.
    create: (user) => write(opts.path, () => db.ifNoExists(user.username, () => void db.put(user.username, user).catch(() => {}))),
    put: async (user) => void (await write(opts.path, () => db.put(user.username, user))),
    // lmdb's remove() resolves true even for a missing key: userStoreOver looks first.
    remove: async (username) => void (await write(opts.path, () => db.remove(username))),
    close: () => db.close(),
  });
}
