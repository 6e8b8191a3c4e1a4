import type { ClusterConfig } from '@harper-tls/config';
import { StoreError } from '../errors.js';
import type { ClusterHealth, SharedBytesStore, SharedKeyValueStore, UserRecords } from '../types.js';
import { PostgresEngine, type PostgresEngineOptions } from './engine.js';
import { bytesView, keyValueView, userRecordsView } from './views.js';

export interface ClusterStores {
  engine: 'postgresql';
  nodeName: string;
  users: UserRecords;
  certificates: SharedKeyValueStore;
  localCa: SharedKeyValueStore;
  revocation: SharedBytesStore;
  health(): ClusterHealth;
  onHealth(listener: (h: ClusterHealth) => void): () => void;
  /** Catches up with the engine now (tests, benchmarks). */
  sync(): Promise<void>;
  stats: PostgresEngine['stats'];
  close(): Promise<void>;
}

/** Connects to the cluster engine and loads this node's copy; throws StoreError with a clear message. */
export async function openPostgresStores(opts: PostgresEngineOptions): Promise<ClusterStores> {
  const engine = new PostgresEngine(opts);
  try {
    await engine.start();
  } catch (err) {
    await engine.close();
    if (err instanceof StoreError) {
      if (err.code === 'ERR_STORE_UNAVAILABLE') throw new StoreError('ERR_STORE_UNAVAILABLE', `cannot reach the cluster engine at ${describe(opts.cluster)}: ${err.message}`, { cause: err });
      throw err;
    }
    throw err;
  }
  return {
    engine: 'postgresql',
    nodeName: opts.cluster.nodeName,
    users: userRecordsView(engine),
    certificates: keyValueView(engine, 'certificates'),
    localCa: keyValueView(engine, 'local-ca'),
    revocation: bytesView(engine, 'revocation'),
    health: () => engine.health(),
    onHealth: (l) => engine.onHealth(l),
    sync: () => engine.sync(),
    stats: engine.stats,
    close: () => engine.close(),
  };
}

function describe(c: ClusterConfig): string {
  return `${c.engine.host}:${c.engine.port}/${c.engine.database} as ${c.engine.user}`;
}
