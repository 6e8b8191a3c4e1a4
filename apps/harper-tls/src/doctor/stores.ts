import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { UserStore } from '@harper-tls/mtls-auth';
import { openUserStore } from '@harper-tls/server';
import { databaseDir, openServerDatabase, type ServerDatabase } from '@harper-tls/server';

export interface DoctorStores {
  /** The server's store (run-time certificates, local CA records, CRL cache); absent before the first start. */
  db?: ServerDatabase;
  users?: UserStore;
  close(): Promise<void>;
}

/**
 * Opens what the doctor reads, never creating a store that does not exist yet. lmdb lets a
 * running server and this process (or this process twice) have the same store open.
 */
export async function openStores(root: string, dir: string = databaseDir(root)): Promise<DoctorStores> {
  const db = existsSync(join(dir, 'server.mdb')) ? openServerDatabase(root, dir) : undefined;
  let users: UserStore | undefined;
  try {
    users = existsSync(join(dir, 'users.mdb')) ? await openUserStore({ path: join(dir, 'users.mdb') }) : undefined;
  } catch (err) {
    await db?.close();
    throw err;
  }
  return {
    db,
    users,
    async close() {
      await users?.close();
      await db?.close();
    },
  };
}

/** A copy of `store` whose write methods do nothing: the doctor reads the server's data, never changes it. */
export function readOnly<T extends object>(store: T, writes: Array<keyof T & string>): T {
  const copy = { ...store } as Record<string, unknown>;
  for (const w of writes) copy[w] = async () => undefined;
  return copy as T;
}
