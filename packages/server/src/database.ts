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

export function openServerDatabase(rootPath: string): ServerDatabase {
  const dir = databaseDir(rootPath);
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

/** Adapts a string-valued lmdb database to the store shape cert-gen's local CA expects. */
export function keyValueStore(db: Database<string, string>) {
  return {
    async get(key: string): Promise<string | undefined> {
      return db.get(key) ?? undefined;
    },
    async put(key: string, value: string): Promise<void> {
      await db.put(key, value);
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
      await db.remove(key);
    },
  };
}

/** Adapts the binary lmdb database to the revocation checker's persistent cache shape. */
export function bytesStore(db: Database<Buffer, string>) {
  return {
    async get(key: string): Promise<Uint8Array | undefined> {
      const v = db.get(key);
      return v ? new Uint8Array(v) : undefined;
    },
    async put(key: string, value: Uint8Array): Promise<void> {
      await db.put(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    },
  };
}
