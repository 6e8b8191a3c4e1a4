import { join } from 'node:path';
import { lmdbBytesStore, lmdbKeyValueStore, lmdbWrite, openLmdbDatabases, type LmdbDatabases, type LmdbLock } from '@harper-tls/store';
import { ServerError } from './errors.js';

/**
 * The server's embedded store in `<ROOTPATH>/database/server.mdb`: @harper-tls/store's lmdb
 * engine (named databases for run-time certificates, the local CA and the revocation cache),
 * with the server's typed errors. lmdb is multi-process safe, so CLI commands (`cert issue`,
 * `cert revoke`) and a running server share it.
 */
export type ServerDatabase = LmdbDatabases;

export function databaseDir(rootPath: string): string {
  return join(rootPath, 'database');
}

/** Opens `<dir>/server.mdb`; `dir` is `storage.path` (default `<ROOTPATH>/database`). */
export function openServerDatabase(rootPath: string, dir: string = databaseDir(rootPath)): ServerDatabase {
  return openLmdbDatabases(dir, (message, cause) => new ServerError('ERR_SERVER_DATABASE', message, { cause }));
}

const writeFailure = (what: string, cause: Error, err: unknown) => new ServerError('ERR_SERVER_DATABASE', `the database could not be written (${what}): ${cause?.message ?? String(cause)}`, { cause: err });

/** Runs an lmdb write and turns its failure (with the cause from lmdb's `commitError`) into ERR_SERVER_DATABASE. */
export async function storeWrite<T>(what: string, write: () => Promise<T>): Promise<T> {
  return lmdbWrite(write, (cause, err) => writeFailure(what, cause, err));
}

/**
 * Adapts a string-valued lmdb database to the store shape cert-gen's local CA expects.
 * @param lock with several workers: the node-wide lock (`peers.exclusive`), so one CRL is built per revision
 */
export function keyValueStore(db: ServerDatabase['localCa'], lock?: LmdbLock) {
  return lmdbKeyValueStore(db, writeFailure, { lock });
}

/** Adapts the binary lmdb database to the revocation checker's persistent cache shape, without copying values. */
export function bytesStore(db: ServerDatabase['revocation']) {
  return lmdbBytesStore(db, writeFailure);
}
