import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HarperConfig } from '@harper-tls/config';
import type { LocalCaStore } from '@harper-tls/cert-gen';
import type { RevocationStore } from '@harper-tls/revocation';
import type { UserStore } from '@harper-tls/mtls-auth';
import { bytesStore, clusterKeySealer, databaseDir, keyValueStore, loadAutoCa, openServerDatabase, openUserStore, userStoreOver, type CertificateStore, type KeySealer } from '@harper-tls/server';
import { isStoreUnavailable, readClusterSnapshot, readLastKnownSnapshot } from '@harper-tls/store';
import { CliError } from '../errors.js';

/** What the doctor reads, all read only: writes do nothing. */
export interface DoctorStores {
  /** Where: the node's own lmdb, or (with `cluster`) the shared engine, read once. */
  source: 'lmdb' | 'cluster';
  /** Run-time certificates and CAs; absent before the first start (lmdb). */
  certificates?: CertificateStore;
  /** The local CA's records; absent before the first start (lmdb). */
  localCa?: LocalCaStore;
  /** The CRL and OCSP cache; absent before the first start (lmdb). */
  revocation?: RevocationStore;
  users?: UserStore;
  /** With `cluster`: opens the shared keys of run-time certificates in memory, as a node does. */
  sealer?: KeySealer;
  /** With `cluster`: why the engine could not be read (which engine, what failed); the shared stores are then the last-known state's, or absent. */
  unreachable?: string;
  /** The engine unreachable: the node's last-known state read instead (its file, when saved, version). */
  lastKnown?: string;
  /** Where the users are, for "no user store yet" messages. */
  usersWhere: string;
  close(): Promise<void>;
}

/**
 * Opens what the doctor reads, never creating a store that does not exist yet. lmdb lets a
 * running server and this process (or this process twice) have the same store open. With
 * `cluster` (SPEC.md section 10) the shared state is the engine's, not the node's lmdb: it is
 * read once, in one read-only transaction, so the doctor and the nodes agree.
 */
export async function openStores(root: string, dir: string = databaseDir(root), config?: Pick<HarperConfig, 'cluster' | 'rootPath' | 'storage'>): Promise<DoctorStores> {
  if (config?.cluster) return openClusterStoresReadOnly(config as Required<Pick<HarperConfig, 'cluster' | 'rootPath' | 'storage'>>);
  const db = existsSync(join(dir, 'server.mdb')) ? openServerDatabase(root, dir) : undefined;
  let users: UserStore | undefined;
  try {
    users = existsSync(join(dir, 'users.mdb')) ? await openUserStore({ path: join(dir, 'users.mdb') }) : undefined;
  } catch (err) {
    await db?.close();
    throw err;
  }
  return {
    source: 'lmdb',
    certificates: db ? readOnly(keyValueStore(db.certificates), ['put', 'remove']) : undefined,
    localCa: db ? readOnly(unshared(keyValueStore(db.localCa)), ['put', 'remove']) : undefined,
    revocation: db ? readOnly(bytesStore(db.revocation), ['put']) : undefined,
    users,
    usersWhere: join(dir, 'users.mdb'),
    async close() {
      await users?.close();
      await db?.close();
    },
  };
}

/** How long the doctor waits for the cluster engine (a stopped engine answers nothing). */
const ENGINE_TIMEOUT_MS = 5000;

async function openClusterStoresReadOnly(config: Required<Pick<HarperConfig, 'cluster' | 'rootPath' | 'storage'>>): Promise<DoctorStores> {
  const cluster = config.cluster!;
  let snap: Awaited<ReturnType<typeof readClusterSnapshot>>;
  const where = `the cluster engine (${cluster.engine.host}:${cluster.engine.port}/${cluster.engine.database})`;
  try {
    snap = await readClusterSnapshot({ cluster, timeoutMs: ENGINE_TIMEOUT_MS });
  } catch (err) {
    // Unreachable or stalled: the local checks still run, the verdict says what could not be read.
    if (isStoreUnavailable(err)) {
      const file = join(config.storage.path, 'cluster-state.json');
      let saved: Awaited<ReturnType<typeof readLastKnownSnapshot>>;
      try {
        saved = await readLastKnownSnapshot({ cluster, path: file });
      } catch (e) {
        return { source: 'cluster', unreachable: `${(err as Error).message}; and ${(e as Error).message}`, usersWhere: where, close: async () => undefined };
      }
      if (!saved) return { source: 'cluster', unreachable: `${(err as Error).message} (and this node has no last-known state, ${file})`, usersWhere: where, close: async () => undefined };
      return { ...views(config, saved, where), unreachable: (err as Error).message, lastKnown: `${file}, saved ${saved.savedAt}, version ${saved.version}` };
    }
    // No schema, a missing certificate file: a configuration error (exit 1).
    throw new CliError(`cluster: the doctor reads the shared state from the engine (cluster.url), and ${(err as Error).message}`);
  }
  return views(config, snap, where);
}

function views(config: Required<Pick<HarperConfig, 'cluster' | 'rootPath'>>, snap: Awaited<ReturnType<typeof readClusterSnapshot>>, where: string): DoctorStores {
  const noop = async () => undefined;
  // Only the reads (no create/increment/lock): the doctor builds nothing into the shared store.
  const kv = (s: typeof snap.localCa) => ({ get: (k: string) => s.get(k), list: (p: string) => s.list(p), put: noop, remove: noop });
  const ca = loadAutoCa(config.rootPath, { readOnly: true });
  const users = userStoreOver(snap.users);
  return {
    source: 'cluster',
    certificates: kv(snap.certificates),
    localCa: kv(snap.localCa),
    revocation: { get: (k) => snap.revocation.get(k), put: noop },
    users,
    sealer: ca ? clusterKeySealer(ca.privateKeyPem) : undefined,
    usersWhere: where,
    async close() {
      await users.close();
      await snap.close();
    },
  };
}

/** Without the atomic increments and the lock (all write): the doctor's local CA signs a CRL it never stores. */
function unshared<T extends { increment?: unknown; putAndIncrement?: unknown; lock?: unknown }>(store: T): Omit<T, 'increment' | 'putAndIncrement' | 'lock'> {
  const { increment: _increment, putAndIncrement: _putAndIncrement, lock: _lock, ...rest } = store;
  return rest;
}

/** A copy of `store` whose write methods do nothing: the doctor reads the server's data, never changes it. */
export function readOnly<T extends object>(store: T, writes: Array<keyof T & string>): T {
  const copy = { ...store } as Record<string, unknown>;
  for (const w of writes) copy[w] = async () => undefined;
  return copy as T;
}
