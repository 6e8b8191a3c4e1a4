/**
 * @harper-tls/store: the storage engines behind the narrow interfaces of the other packages.
 * This entry loads no engine client: the PostgreSQL engine is the `@harper-tls/store/postgres`
 * entry (or `openClusterStores`, which imports it on demand), so a node without `cluster` never
 * loads `pg`.
 */
import type { ClusterConfig } from '@harper-tls/config';
import type { ClusterStores } from './postgres/index.js';

export { StoreError, isStoreUnavailable } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export type { SharedKeyValueStore, SharedBytesStore, UserRecord, UserRecords, ClusterHealth } from './types.js';
export type { ClusterStores } from './postgres/index.js';

/** Opens the cluster engine named by `cluster` (PostgreSQL), importing its client only now. */
export async function openClusterStores(opts: { cluster: ClusterConfig; logger?: { info(o: object, m?: string): void; warn(o: object, m?: string): void }; writeTimeoutMs?: number; readTimeoutMs?: number }): Promise<ClusterStores> {
  const { openPostgresStores } = await import('./postgres/index.js');
  return openPostgresStores(opts);
}

/** `harper-tls cluster init`: creates the schema (idempotent). */
export async function initClusterSchema(cluster: ClusterConfig): Promise<{ created: boolean }> {
  const { initSchemaWith } = await import('./postgres/init.js');
  return initSchemaWith(cluster);
}
