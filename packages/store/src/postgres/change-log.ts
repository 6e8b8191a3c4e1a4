import type pg from 'pg';

export type CatchUp =
  | { full: true; head: number; rows: Array<{ ns: string; key: string; value: Buffer }> }
  | { full: false; rows: Array<{ version: string; ns: string; key: string; value: Buffer | null }> };

/** Every record and the version they are at, in one snapshot (a node's start, a read-only tool). */
export async function readWholeState(c: pg.Client): Promise<{ version: number; rows: Array<{ ns: string; key: string; value: Buffer }> }> {
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const v = await c.query<{ version: string }>('SELECT version FROM harper_tls_meta WHERE id = 1');
    const rows = await c.query<{ ns: string; key: string; value: Buffer }>('SELECT ns, key, value FROM harper_tls_records');
    return { version: Number(v.rows[0]!.version), rows: rows.rows };
  } finally {
    await c.query('COMMIT');
  }
}

/**
 * What a node at version `from` reads to catch up, in one snapshot: the change-log rows after
 * `from` with each key's current value, or (when rows after `from` were pruned, or the engine is
 * behind the node, or `whole`) every record, to reload the whole state.
 */
export async function readSince(c: pg.Client, from: number, whole = false): Promise<CatchUp> {
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const b = await c.query<{ head: string; oldest: string | null }>('SELECT (SELECT version FROM harper_tls_meta WHERE id = 1) AS head, (SELECT min(version) FROM harper_tls_changes) AS oldest');
    const head = Number(b.rows[0]!.head);
    const oldest = b.rows[0]!.oldest === null ? undefined : Number(b.rows[0]!.oldest);
    // Versions are contiguous in the log (one per commit, pruned whole); rows after `from` are
    // gone when the oldest kept is past from + 1 (or none is kept and the head moved on). An
    // engine behind this node (restored from a backup) is reloaded too.
    if (whole || head < from || (head > from && (oldest === undefined || oldest > from + 1))) {
      const all = await c.query<{ ns: string; key: string; value: Buffer }>('SELECT ns, key, value FROM harper_tls_records');
      return { full: true, head, rows: all.rows };
    }
    const rows = await c.query<{ version: string; ns: string; key: string; value: Buffer | null }>(
      `SELECT c.version, c.ns, c.key, r.value FROM harper_tls_changes c LEFT JOIN harper_tls_records r ON r.ns = c.ns AND r.key = c.key WHERE c.version > $1 ORDER BY c.version`,
      [from],
    );
    return { full: false, rows: rows.rows };
  } finally {
    await c.query('COMMIT');
  }
}

/**
 * Deletes change-log rows older than `retentionMs`, whole versions at a time (at most `batch`
 * versions), when this session gets the prune lock (one node at a time; the others skip).
 * Returns the rows deleted.
 */
export async function pruneChanges(c: pg.Client, retentionMs: number, batch: number, lockClass: number): Promise<number> {
  await c.query('BEGIN');
  try {
    const got = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [lockClass, 'prune change log']);
    if (!got.rows[0]?.ok) return 0;
    const r = await c.query(
      `DELETE FROM harper_tls_changes WHERE version <= (SELECT max(version) FROM (SELECT DISTINCT version FROM harper_tls_changes WHERE committed_at < now() - make_interval(secs => $1::double precision / 1000) ORDER BY version LIMIT $2) s)`,
      [retentionMs, batch],
    );
    return r.rowCount ?? 0;
  } finally {
    await c.query('COMMIT').catch(() => undefined);
  }
}
