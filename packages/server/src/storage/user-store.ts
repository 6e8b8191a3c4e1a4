/**
 * mtls-auth's UserStore on the embedded engine: @harper-tls/store's lmdb user records, with the
 * checks and hashing of `userStoreOver` (storage/user-records.ts, shared with the cluster
 * engine). A user of @harper-tls/mtls-auth never installs lmdb (docs/ARCHITECTURE.md).
 */
import { openLmdbUserRecords } from '@harper-tls/store';
import { AuthError, type UserStore } from '@harper-tls/mtls-auth';
import { userStoreOver } from './user-records.js';

/**
 * Users in an lmdb database at `path` (the server uses `<ROOTPATH>/database/users.mdb`), with
 * scrypt password hashes. lmdb is multi-process safe, so CLI commands can read it while the
 * server runs.
 */
export async function openUserStore(opts: { path: string }): Promise<UserStore> {
  const records = openLmdbUserRecords(opts.path, {
    open: (message, cause) => new AuthError('ERR_AUTH_STORE', message, { cause }),
    write: (cause, err) => new AuthError('ERR_AUTH_STORE', `the user store ${opts.path} could not be written: ${cause?.message ?? String(cause)}`, { cause: err }),
  });
  return userStoreOver(records);
}
