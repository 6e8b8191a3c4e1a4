import pg from 'pg';
import type { ClusterConfig } from '@harper-tls/config';
import { clientConfig, readEngineTls } from './connect.js';
import { toStoreError } from './connection.js';
import { initSchema } from './schema.js';
import { StoreError } from '../errors.js';

/** Connects once (mTLS, like a node) and creates the schema. */
export async function initSchemaWith(cluster: ClusterConfig, timeoutMs = 15_000): Promise<{ created: boolean }> {
  const client = new pg.Client({ ...clientConfig(cluster, readEngineTls(cluster), 'init'), connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw toStoreError(err, `cluster init: connecting to ${cluster.engine.host}:${cluster.engine.port}`);
  }
  try {
    return await initSchema(client);
  } catch (err) {
    throw err instanceof StoreError ? err : toStoreError(err, 'cluster init');
  } finally {
    await client.end().catch(() => undefined);
  }
}
