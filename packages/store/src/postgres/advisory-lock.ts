import type pg from 'pg';
import { destroyClient, toStoreError } from './connection.js';
import { within } from './deadline.js';

/** The first key of every cluster-wide transaction lock ("HTLS"; the node-name locks use another). */
export const LOCK_CLASS = 1213481043;

export interface LockTimeouts {
  /** Connecting, and every statement but the wait for the lock. */
  answerMs: number;
  /** Waiting for the lock while another node holds it. */
  lockMs: number;
}

/**
 * Takes the cluster-wide advisory lock `name` on `client`, a connection of its own: a
 * transaction-level lock, released by the returned `unlock` (its commit) or by the engine when
 * the connection dies, so a node that is killed holding it blocks nobody. The connection is
 * destroyed on failure and by `unlock`.
 * @throws StoreError ERR_STORE_UNAVAILABLE when the engine does not answer in time
 */
export async function takeLock(client: pg.Client, name: string, t: LockTimeouts): Promise<() => Promise<void>> {
  const what = `cluster lock ${name}`;
  client.on('error', () => undefined);
  try {
    await within(client.connect(), t.answerMs, what);
    await within(client.query('BEGIN'), t.answerMs, what);
    await within(client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, name]), t.lockMs, what);
  } catch (err) {
    destroyClient(client);
    throw toStoreError(err, what);
  }
  return async () => {
    await within(client.query('COMMIT'), t.answerMs, `unlock ${name}`).catch(() => undefined);
    destroyClient(client);
  };
}
