import type pg from 'pg';
import { StoreError } from '../errors.js';

/** Bumped when the tables change; a node refuses an engine whose schema it does not know. */
export const SCHEMA_VERSION = 1;

/**
 * The tables (`harper-tls cluster init`; every statement idempotent):
 * - harper_tls_meta: one row, the last committed change version. Every write transaction updates
 *   it first, so commits are serialised and versions follow commit order (no gaps, no reordering
 *   as a reader sees them).
 * - harper_tls_records: the current value of every key, by namespace (users, certificates,
 *   local-ca, revocation). The primary key is also the uniqueness constraint for local CA serials.
 * - harper_tls_changes: the change log, the truth a node catches up from (NOTIFY only wakes it).
 */
export const SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS harper_tls_meta (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL, schema_version int NOT NULL)`,
  `INSERT INTO harper_tls_meta (id, version, schema_version) VALUES (1, 0, ${SCHEMA_VERSION}) ON CONFLICT (id) DO NOTHING`,
  `CREATE TABLE IF NOT EXISTS harper_tls_records (ns text NOT NULL, key text NOT NULL, value bytea NOT NULL, version bigint NOT NULL, PRIMARY KEY (ns, key))`,
  `CREATE TABLE IF NOT EXISTS harper_tls_changes (version bigint NOT NULL, ns text NOT NULL, key text NOT NULL, node text NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (version, ns, key))`,
];

export const CHANNEL = 'harper_tls_changes';

/** Creates the schema; running it again changes nothing. Returns whether it was created now. */
export async function initSchema(client: pg.Client): Promise<{ created: boolean }> {
  const before = await client.query(`SELECT to_regclass('harper_tls_meta') AS t`);
  await client.query('BEGIN');
  try {
    for (const sql of SCHEMA_SQL) await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new StoreError('ERR_STORE_ENGINE', `the schema could not be created: ${(err as Error).message}`, { cause: err });
  }
  return { created: before.rows[0]?.t === null };
}

/** Throws ERR_STORE_NO_SCHEMA when the engine has no (or another) harper-tls schema. */
export async function checkSchema(client: pg.Client): Promise<void> {
  const t = await client.query(`SELECT to_regclass('harper_tls_meta') AS m, to_regclass('harper_tls_records') AS r, to_regclass('harper_tls_changes') AS c`);
  const row = t.rows[0] ?? {};
  if (!row.m || !row.r || !row.c) {
    throw new StoreError('ERR_STORE_NO_SCHEMA', 'the cluster engine has no harper-tls schema: run `harper-tls cluster init` once (with this node\'s configuration)');
  }
  const v = await client.query(`SELECT schema_version FROM harper_tls_meta WHERE id = 1`);
  const found = v.rows[0]?.schema_version;
  if (found !== SCHEMA_VERSION) throw new StoreError('ERR_STORE_NO_SCHEMA', `the cluster engine's harper-tls schema is version ${found ?? '(none)'}; this node needs ${SCHEMA_VERSION}`);
}
