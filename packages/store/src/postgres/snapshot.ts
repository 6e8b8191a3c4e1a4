import pg from 'pg';
import type { ClusterConfig } from '@harper-tls/config';
import { StoreError } from '../errors.js';
import type { SharedBytesStore, SharedKeyValueStore, UserRecords } from '../types.js';
import { clientConfig, readEngineTls } from './connect.js';
import { destroyClient } from './connection.js';
import { Mirror } from './mirror.js';
import { checkSchema } from './schema.js';
import { readWholeState } from './change-log.js';
import { within } from './deadline.js';
import { bytesView, keyValueView, userRecordsView, type EngineView } from './views.js';
import { readLastKnown } from './last-known.js';

/** The shared state as one consistent read, for tools that only look (`harper-tls doctor`). */
export interface ClusterSnapshot {
  /** The change version the snapshot was read at. */
  version: number;
  users: UserRecords;
  certificates: SharedKeyValueStore;
  localCa: SharedKeyValueStore;
  revocation: SharedBytesStore;
  close(): Promise<void>;
}

/**
 * Reads every record once, in one read-only transaction (REPEATABLE READ: one version of
 * everything), over the same mTLS connection settings as a node, then disconnects: no listening,
 * no polling, nothing written. Every write method of the views refuses.
 */
export async function readClusterSnapshot(opts: { cluster: ClusterConfig; timeoutMs?: number }): Promise<ClusterSnapshot> {
  const { cluster } = opts;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const where = `${cluster.engine.host}:${cluster.engine.port}/${cluster.engine.database} as ${cluster.engine.user}`;
  const client = new pg.Client({ ...clientConfig(cluster, readEngineTls(cluster), 'read-only'), connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  const mirror = new Mirror();
  try {
    const state = await within(
      (async () => {
        try {
          await client.connect();
        } catch (err) {
          throw new StoreError('ERR_STORE_UNAVAILABLE', `cannot reach the cluster engine at ${where}: ${(err as Error).message}`, { cause: err });
        }
        await checkSchema(client);
        return readWholeState(client);
      })(),
      timeoutMs,
      `cannot read the cluster engine at ${where}`,
    );
    mirror.load(state.version, state.rows);
  } finally {
    destroyClient(client);
  }
  return snapshotOf(mirror);
}

/**
 * A node's last-known state file (`<ROOTPATH>/database/cluster-state.json`) as a read-only
 * snapshot, for the doctor when the engine does not answer; undefined when the node never synced.
 */
export function readLastKnownSnapshot(opts: { cluster: ClusterConfig; path: string }): (ClusterSnapshot & { savedAt: string }) | undefined {
  const e = opts.cluster.engine;
  const saved = readLastKnown(opts.path, { nodeName: opts.cluster.nodeName, engine: `${e.host}:${e.port}/${e.database}` });
  if (!saved) return undefined;
  const mirror = new Mirror();
  mirror.load(saved.version, saved.records);
  return { ...snapshotOf(mirror), savedAt: saved.savedAt };
}

function snapshotOf(mirror: Mirror): ClusterSnapshot {
  const engine: EngineView = {
    mirror,
    write: () => Promise.reject(new StoreError('ERR_STORE_ENGINE', 'this is a read-only snapshot of the cluster store: nothing is written')),
    lock: (_name, fn) => fn(),
  };
  return {
    version: mirror.version,
    users: userRecordsView(engine),
    certificates: keyValueView(engine, 'certificates'),
    localCa: keyValueView(engine, 'local-ca'),
    revocation: bytesView(engine, 'revocation'),
    close: async () => undefined,
  };
}
