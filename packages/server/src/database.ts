import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase, type Database } from 'lmdb';
import { ServerError } from './errors.js';

/**
 * The server's embedded store (lmdb, the engine Harper uses) in `<ROOTPATH>/database/server.mdb`:
 * named databases for run-time certificates, the local CA and the revocation cache. lmdb is
 * multi-process safe, so CLI commands (`cert issue`, `cert revoke`) and a running server share it.
 */
export interface ServerDatabase {
  /** Run-time certificates (add_certificate), keyed by name, JSON values. */
  certificates: Database<string, string>;
  /** Local CA records, string values. */
  localCa: Database<string, string>;
  /** Revocation cache: raw bytes. */
  revocation: Database<Buffer, string>;
  close(): Promise<void>;
}

export function databaseDir(rootPath: string): string {
  return join(rootPath, 'database');
}

/** Opens `<dir>/server.mdb`; `dir` is `storage.path` (default `<ROOTPATH>/database`). */
export function openServerDatabase(rootPath: string, dir: string = databaseDir(rootPath)): ServerDatabase {
  const path = join(dir, 'server.mdb');
  let root: RootDatabase;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    root = open({ path, maxDbs: 8 });
  } catch (err) {
    // A read-only or full disk, a foreign owner: one clear line, not lmdb's stack.
    throw new ServerError('ERR_SERVER_DATABASE', `cannot open the database ${path}: ${(err as Error).message}`, { cause: err });
  }
  return {
    certificates: root.openDB<string, string>({ name: 'certificates', encoding: 'string' }),
    localCa: root.openDB<string, string>({ name: 'local-ca', encoding: 'string' }),
    revocation: root.openDB<Buffer, string>({ name: 'revocation', encoding: 'binary' }),
    close: () => root.close(),
  };
}

/**
 * Runs an lmdb write and turns its failure into one typed error. lmdb rejects a failed commit with
 * "Commit failed (see commitError for details)" and a second promise, `commitError`, that rejects
 * with the cause (ENOSPC, EACCES...); left unhandled, that second rejection would crash the process.
 */
export async function storeWrite<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    let cause = err as Error & { commitError?: Promise<unknown> };
    if (cause?.commitError && typeof cause.commitError.then === 'function') {
      const detail = await Promise.race([cause.commitError.then(() => undefined, (e: unknown) => e), new Promise((r) => setTimeout(r, 1000).unref())]);
      if (detail instanceof Error) cause = detail;
    }
    throw new ServerError('ERR_SERVER_DATABASE', `the database could not be written (${what}): ${cause?.message ?? String(cause)}`, { cause: err });
  }
}

/** Adapts a string-valued lmdb database to the store shape cert-gen's local CA expects. */
export function keyValueStore(db: Database<string, string>) {
  return {
    async get(key: string): Promise<string | undefined> {
      return db.get(key) ?? undefined;
    },
    async put(key: string, value: string): Promise<void> {
      await storeWrite(key, () => db.put(key, value));
    },
    async list(prefix: string): Promise<Array<[string, string]>> {
      const out: Array<[string, string]> = [];
      for (const { key, value } of db.getRange({ start: prefix })) {
        if (typeof key !== 'string' || !key.startsWith(prefix)) break;
        out.push([key, value]);
      }
      return out;
    },
    async remove(key: string): Promise<void> {
      await storeWrite(key, () => db.remove(key));
    },
  };
}

/**
 * Adapts the binary lmdb database to the revocation checker's persistent cache shape, without
 * copying values (a cached CRL is tens of MiB): `get` returns a view of the buffer lmdb's `get`
 * made for this value (its own copy of the bytes, not the buffer lmdb reuses for the next read
 * (`getBinaryFast`): safe to keep), and `put` hands lmdb a view of the caller's bytes. lmdb
 * writes that memory as is on its write thread and keeps it referenced until the next write (its
 * last queued write), so the caller passes memory it keeps anyway and never modifies it.
 */
export function bytesStore(db: Database<Buffer, string>) {
  return {
    async get(key: string): Promise<Uint8Array | undefined> {
      const v = db.get(key);
      return v ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : undefined;
    },
    async put(key: string, value: Uint8Array): Promise<void> {
      await storeWrite(key, () => db.put(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)));
    },
  };
}
