/**
 * @harper-tls/store: the storage engines behind the narrow interfaces of the other packages.
 * The embedded lmdb engine (one node, the default) and the PostgreSQL engine (several nodes).
 * This entry loads no PostgreSQL client: `openClusterStores` imports it on demand, so a node
 * without `cluster` never loads `pg`.
 */
import type { ClusterConfig } from '@harper-tls/config';
import type { StoreLogger } from './types.js';
import type { ClusterStores } from './postgres/index.js';
import type { ClusterSnapshot } from './postgres/snapshot.js';

export { StoreError, isStoreUnavailable } from './errors.js';
// The embedded engine of one node (lmdb): the default.
export { openLmdbDatabases, openLmdbUserRecords, lmdbKeyValueStore, lmdbBytesStore, lmdbWrite, type LmdbLock } from './lmdb/database.js';
export type { MappedValue } from './lmdb/database.js';
export type { LmdbDatabases, LmdbUserRecord } from './lmdb/database.js';
export type { StoreErrorCode } from './errors.js';
export type { SharedKeyValueStore, SharedBytesStore, UserRecord, UserRecords, ClusterHealth, StoreLogger } from './types.js';
export type { ClusterStores } from './postgres/index.js';
export type { ClusterSnapshot } from './postgres/snapshot.js';

/** Opens the cluster engine named by `cluster` (PostgreSQL), importing its client only now. */
export async function openClusterStores(opts: { cluster: ClusterConfig; logger?: StoreLogger; writeTimeoutMs?: number; readTimeoutMs?: number; claimNodeName?: boolean; lastKnownPath?: string }): Promise<ClusterStores> {
  const { openPostgresStores } = await import('./postgres/index.js');
  return openPostgresStores(opts);
}


/**
 * Holds `cluster.nodeName` for a process that serves without opening the stores itself (the
 * primary of several workers): refused (ERR_STORE_NODE_NAME) when another running node holds it.
 */
export async function claimClusterNodeName(opts: { cluster: ClusterConfig; logger?: StoreLogger }): Promise<{ close(): Promise<void> }> {
  const { NodeNameClaim } = await import('./postgres/node-name.js');
  const claim = new NodeNameClaim(opts);
  await claim.start();
  return claim;
}

/** `harper-tls cluster init`: creates the schema (idempotent). */
export async function initClusterSchema(cluster: ClusterConfig): Promise<{ created: boolean }> {
  const { initSchemaWith } = await import('./postgres/init.js');
  return initSchemaWith(cluster);
}

/** A node's last-known state file as a read-only snapshot (the doctor, engine unreachable); undefined when there is none. */
export async function readLastKnownSnapshot(opts: { cluster: ClusterConfig; path: string }): Promise<(ClusterSnapshot & { savedAt: string }) | undefined> {
  const { readLastKnownSnapshot: read } = await import('./postgres/snapshot.js');
  return read(opts);
}

/** The shared state read once, read-only (`harper-tls doctor` on a cluster node's root); imports the client only now. */
export async function readClusterSnapshot(opts: { cluster: ClusterConfig; timeoutMs?: number }): Promise<ClusterSnapshot> {
  const { readClusterSnapshot: read } = await import('./postgres/snapshot.js');
  return read(opts);
}
