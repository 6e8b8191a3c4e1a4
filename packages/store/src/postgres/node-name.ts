import pg from 'pg';
import type { ClusterConfig } from '@harper-tls/config';
import { StoreError } from '../errors.js';
import { clientConfig, readEngineTls, type EngineTlsMaterial } from './connect.js';
import { destroyClient, toStoreError } from './connection.js';
import { within } from './deadline.js';
import type { StoreLogger } from '../types.js';

/** The first key of the node-name locks (session locks; the transaction locks of `lock()` use another class). */
const NAME_LOCK_CLASS = 1213481038; // "HTLN"

export interface NodeNameClaimOptions {
  cluster: ClusterConfig;
  logger?: StoreLogger;
  /** At start, how long a name held by another session is waited for (a node killed a moment ago: its backend ends when its socket closes). Default 3000 ms. */
  waitMs?: number;
  /** Connecting and each statement. Default 3000 ms. */
  timeoutMs?: number;
  /** Called when the claim is lost to another node (true) or held again (false). */
  onConflict?: (conflict: string | undefined) => void;
}

/**
 * `cluster.nodeName` is unique in a cluster (SPEC.md section 10): a running node holds a session
 * advisory lock keyed on its name, on a connection of its own that lives as long as the node. The
 * engine releases it when that session ends (the node stopped, or was killed: its socket closes).
 * A second node with the same name is refused at start, told who holds it. The connection is
 * checked every `pollInterval` and, when lost, re-made and the lock taken again; held meanwhile
 * by another node, that is logged as an error and reported (`conflict`), and retried.
 */
export class NodeNameClaim {
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #busy = false;
  /** Why this node does not hold its name now (another node took it while this one was disconnected). */
  conflict: string | undefined;
  readonly #tls: EngineTlsMaterial;

  constructor(private readonly opts: NodeNameClaimOptions) {
    this.#tls = readEngineTls(opts.cluster);
  }

  get #name(): string {
    return this.opts.cluster.nodeName;
  }

  /** Takes the name, or throws ERR_STORE_NODE_NAME naming it and its holder (or ERR_STORE_UNAVAILABLE). */
  async start(): Promise<void> {
    const deadline = Date.now() + (this.opts.waitMs ?? 3000);
    for (;;) {
      const held = await this.#take();
      if (held === true) break;
      if (Date.now() >= deadline) {
        throw new StoreError('ERR_STORE_NODE_NAME', `cluster.nodeName "${this.#name}" is held by another running node${held ? ` (${held})` : ''}: node names are unique in a cluster. Stop that node, or give this one its own name (cluster.nodeName) and engine certificate (harper-tls cluster issue-node --name NAME)`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    this.#timer = setInterval(() => void this.#check(), this.opts.cluster.pollInterval);
    this.#timer.unref();
  }

  /** The engine did not answer at start: take the name at the next checks, once it does. */
  later(): void {
    if (this.#timer || this.#closed) return;
    this.conflict = undefined;
    this.#timer = setInterval(() => void this.#check(), this.opts.cluster.pollInterval);
    this.#timer.unref();
  }

  /** true when held; else a description of the holder ('' when it cannot be seen). */
  async #take(): Promise<true | string> {
    const timeoutMs = this.opts.timeoutMs ?? 3000;
    const client = new pg.Client({ ...clientConfig(this.opts.cluster, this.#tls, 'name'), connectionTimeoutMillis: timeoutMs });
    client.on('error', () => {
      if (this.#client === client) this.#client = undefined;
    });
    try {
      const got = await within(
        (async () => {
          await client.connect();
          const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [NAME_LOCK_CLASS, this.#name]);
          if (r.rows[0]?.ok) return true as const;
          return describeHolder(client, this.#name);
        })(),
        timeoutMs,
        'cluster node name',
      );
      if (got === true) {
        this.#client = client;
        return true;
      }
      destroyClient(client);
      return got;
    } catch (err) {
      destroyClient(client);
      throw toStoreError(err, 'cluster node name');
    }
  }

  /** Every pollInterval: the claim's connection still answers; else it is re-made and the name taken again. */
  async #check(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      const c = this.#client;
      if (c) {
        try {
          await within(c.query('SELECT 1'), this.opts.timeoutMs ?? 3000, 'cluster node name check');
          return;
        } catch {
          if (this.#client === c) this.#client = undefined;
          destroyClient(c);
        }
      }
      let held: true | string;
      try {
        held = await this.#take();
      } catch {
        return; // the engine is away: the node reports degraded through its other connections; retried next time
      }
      if (this.#closed) {
        if (this.#client) destroyClient(this.#client);
        return;
      }
      if (held === true) {
        if (this.conflict) {
          this.opts.logger?.info({ node: this.#name }, 'cluster node name held again by this node');
          this.conflict = undefined;
          this.opts.onConflict?.(undefined);
        }
      } else if (!this.conflict) {
        this.conflict = `cluster.nodeName "${this.#name}" was taken by another node${held ? ` (${held})` : ''} while this node was disconnected from the engine`;
        (this.opts.logger?.error ?? this.opts.logger?.warn)?.call(this.opts.logger, { node: this.#name }, `${this.conflict}: node names are unique; serving the last-known state, reported degraded, until the name is free again`);
        this.opts.onConflict?.(this.conflict);
      }
    } finally {
      this.#busy = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    const c = this.#client;
    this.#client = undefined;
    if (c) await within(c.end(), 1000, 'cluster node name release').catch(() => destroyClient(c));
  }
}

/** Who holds the name's lock: the address and start of its session, as the engine shows it. */
async function describeHolder(client: pg.Client, name: string): Promise<string> {
  try {
    const r = await client.query<{ addr: string | null; port: number | null; app: string | null; since: Date | null }>(
      `SELECT host(a.client_addr) AS addr, a.client_port AS port, a.application_name AS app, a.backend_start AS since
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1::bigint::oid
          AND l.objid = ((hashtext($2)::bigint + 4294967296) % 4294967296)::oid`,
      [NAME_LOCK_CLASS, name],
    );
    const h = r.rows[0];
    if (!h) return '';
    const at = h.addr ? `connected from ${h.addr.includes(':') ? `[${h.addr}]` : h.addr}:${h.port}` : 'connected';
    return `${at}${h.since ? ` since ${h.since.toISOString()}` : ''}${h.app ? `, "${h.app}"` : ''}`;
  } catch {
    return '';
  }
}
