import type pg from 'pg';
import { CHANNEL } from './schema.js';

/** One change inside a write transaction. */
export interface Tx {
  get(ns: string, key: string): Promise<Buffer | undefined>;
  put(ns: string, key: string, value: Buffer): Promise<void>;
  /** Inserts only when absent: false when the key exists. */
  insert(ns: string, key: string, value: Buffer): Promise<boolean>;
  remove(ns: string, key: string): Promise<boolean>;
}

export interface Change {
  ns: string;
  key: string;
  /** undefined: removed. */
  value?: Buffer;
}

/** What a committed write did: its version (none when it changed nothing) and its changes. */
export interface WriteOutcome<T> {
  result: T;
  version?: number;
  changes: Change[];
}

/**
 * Runs `fn` in one transaction on `c` and commits it. The version is taken first (the row lock on
 * harper_tls_meta orders concurrent writers, so versions follow commit order); each changed key
 * gets one change-log row, and one NOTIFY carries the version. A write that changed nothing is
 * rolled back and takes no version. On failure the transaction is rolled back.
 */
export async function commitWrite<T>(c: pg.Client, node: string, fn: (tx: Tx) => Promise<T>): Promise<WriteOutcome<T>> {
  await c.query('BEGIN');
  try {
    const v = await c.query<{ version: string }>('UPDATE harper_tls_meta SET version = version + 1 WHERE id = 1 RETURNING version');
    const version = Number(v.rows[0]!.version);
    const changes = new Map<string, Change>();
    const changed = (ns: string, key: string, value: Buffer | undefined) => changes.set(`${ns}\0${key}`, { ns, key, value });
    const tx: Tx = {
      async get(ns, key) {
        const r = await c.query<{ value: Buffer }>('SELECT value FROM harper_tls_records WHERE ns = $1 AND key = $2', [ns, key]);
        return r.rows[0]?.value;
      },
      async put(ns, key, value) {
        await c.query('INSERT INTO harper_tls_records (ns, key, value, version) VALUES ($1, $2, $3, $4) ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version', [ns, key, value, version]);
        changed(ns, key, value);
      },
      async insert(ns, key, value) {
        const r = await c.query('INSERT INTO harper_tls_records (ns, key, value, version) VALUES ($1, $2, $3, $4) ON CONFLICT (ns, key) DO NOTHING', [ns, key, value, version]);
        if (r.rowCount !== 1) return false;
        changed(ns, key, value);
        return true;
      },
      async remove(ns, key) {
        const r = await c.query('DELETE FROM harper_tls_records WHERE ns = $1 AND key = $2', [ns, key]);
        if (r.rowCount !== 1) return false;
        changed(ns, key, undefined);
        return true;
      },
    };
    const result = await fn(tx);
    if (changes.size === 0) {
      await c.query('ROLLBACK');
      return { result, changes: [] };
    }
    for (const ch of changes.values()) await c.query('INSERT INTO harper_tls_changes (version, ns, key, node) VALUES ($1, $2, $3, $4)', [version, ch.ns, ch.key, node]);
    await c.query('SELECT pg_notify($1, $2)', [CHANNEL, String(version)]);
    await c.query('COMMIT');
    return { result, version, changes: [...changes.values()] };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
