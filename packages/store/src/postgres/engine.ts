import pg from 'pg';
import type { ClusterConfig } from '@harper-tls/config';
import { isStoreUnavailable, StoreError } from '../errors.js';
import type { ClusterHealth, StoreLogger } from '../types.js';
import { clientConfig, readEngineTls, type EngineTlsMaterial, type SessionLimits } from './connect.js';
import { Connection, toStoreError } from './connection.js';
import { checkSchema } from './schema.js';
import { Mirror } from './mirror.js';
import { NodeNameClaim } from './node-name.js';
import { readLastKnown, savedRecords, writeLastKnown, type LastKnown } from './last-known.js';
import { pruneChanges, readSince, readWholeState } from './change-log.js';
import { LOCK_CLASS, takeLock } from './advisory-lock.js';
import { ChangeListener } from './listener.js';
import { commitWrite, type Change, type Tx, type WriteOutcome } from './write-tx.js';

export interface PostgresEngineOptions {
  cluster: ClusterConfig;
  logger?: StoreLogger;
  /** A write (waiting included) answers ERR_STORE_UNAVAILABLE after this long. Default 3000 ms. */
  writeTimeoutMs?: number;
  /** A catch-up read gives up (and the node reports degraded) after this long. Default 3000 ms. */
  readTimeoutMs?: number;
  /** Waiting for a cluster-wide lock. Default 30000 ms. */
  lockTimeoutMs?: number;
  /** Hold `cluster.nodeName` for as long as this engine is open (a running node; tools do not). Default false. */
  claimNodeName?: boolean;
  /**
   * A running node's last-known state file (`<ROOTPATH>/database/cluster-state.json`): saved after
   * each change, and started from (degraded) when the engine is unreachable at start. Tools: none.
   */
  lastKnownPath?: string;
}

/** Versions deleted from the change log per prune run at most. */
const PRUNE_BATCH = 1000;
/** How long a start waits for the engine before using the last-known state. */
const START_WITH_SAVED_MS = 5000;

/**
 * The PostgreSQL engine. The node keeps a copy of every record (the mirror) and answers every
 * read from it, so authentication never waits for the engine and goes on from the last-known
 * state while it is unreachable. Writes are transactions in the engine, acknowledged once
 * committed; each commit gets the next version (harper_tls_meta, updated first in every write, so
 * versions follow commit order) and one change-log row per key. Nodes catch up from the change
 * log, from the last version they applied: woken by NOTIFY (the fast path), on every reconnect of
 * the listening connection and every `cluster.pollInterval` (NOTIFY is lost while disconnected).
 */
export class PostgresEngine {
  readonly mirror = new Mirror();
  readonly #opts: Required<Omit<PostgresEngineOptions, 'logger'>> & { logger?: StoreLogger };
  #claim: NodeNameClaim | undefined;
  readonly #tls: EngineTlsMaterial;
  readonly #writer: Connection;
  readonly #reader: Connection;
  readonly #listener: ChangeListener;
  #poll: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #health: ClusterHealth = { status: 'ok', version: 0 };
  readonly #healthListeners = new Set<(h: ClusterHealth) => void>();
  /** Counts for the benchmarks and /metrics. */
  readonly stats = { syncs: 0, notifications: 0, listenerReconnects: 0, fullResyncs: 0, prunedChanges: 0 };
  #lastPrune = 0;

  constructor(opts: PostgresEngineOptions) {
    this.#opts = { writeTimeoutMs: 3000, readTimeoutMs: 3000, lockTimeoutMs: 30_000, claimNodeName: false, lastKnownPath: '', ...opts };
    this.#tls = readEngineTls(opts.cluster);
    const { writeTimeoutMs, readTimeoutMs } = this.#opts;
    // A write or read that outlives its deadline has been given up here (its connection
    // destroyed): the engine ends a session silent in a transaction for twice that, so a node
    // that stalls or dies mid-write (no FIN) releases the version row lock every write takes, and
    // a statement waits for a lock a little less than the write is given.
    this.#writer = new Connection(() => this.#client('writer', { idleInTransactionMs: 2 * writeTimeoutMs, lockTimeoutMs: Math.floor(writeTimeoutMs * 0.9) }), 'cluster write');
    this.#reader = new Connection(() => this.#client('reader', { idleInTransactionMs: 2 * readTimeoutMs, lockTimeoutMs: Math.floor(readTimeoutMs * 0.9) }), 'cluster read');
    this.#listener = new ChangeListener({
      client: () => this.#client('listen', { idleInTransactionMs: 2 * readTimeoutMs }),
      timeoutMs: this.#opts.readTimeoutMs,
      logger: opts.logger,
      onNotify: (version) => {
        this.stats.notifications++;
        if (version > this.mirror.version) void this.sync().catch(() => undefined);
      },
      onListening: () => {
        this.stats.listenerReconnects++;
        void this.sync().catch(() => undefined);
      },
    });
  }

  get nodeName(): string {
    return this.#opts.cluster.nodeName;
  }

  #client(purpose: string, limits: SessionLimits): pg.Client {
    return new pg.Client({ ...clientConfig(this.#opts.cluster, this.#tls, purpose, limits), connectionTimeoutMillis: this.#opts.readTimeoutMs });
  }

  /** Connects, checks the schema, loads every record, starts listening and polling. */
  async start(): Promise<void> {
    const path = this.#opts.lastKnownPath;
    // Read first: a damaged file is a clear error whether or not the engine answers.
    const saved = path ? readLastKnown(path, { nodeName: this.nodeName, engine: this.#where }) : undefined;
    try {
      await this.#startOnline(saved !== undefined);
    } catch (err) {
      if (!isStoreUnavailable(err) || !path) throw err;
      if (!saved) throw new StoreError('ERR_STORE_UNAVAILABLE', `${(err as Error).message}; this node has never synced with it (no last-known state in ${path}), so it cannot start until the engine answers`, { cause: err });
      this.#startFromLastKnown(saved, err as Error);
    }
    this.#listener.start();
    this.#poll = setInterval(() => {
      void this.sync().catch(() => undefined);
      this.#maybePrune();
      this.#saveLastKnown();
    }, this.#opts.cluster.pollInterval);
    this.#poll.unref();
  }

  get #where(): string {
    const e = this.#opts.cluster.engine;
    return `${e.host}:${e.port}/${e.database}`;
  }

  async #startOnline(haveSaved: boolean): Promise<void> {
    if (this.#opts.claimNodeName) {
      const claim = new NodeNameClaim({ cluster: this.#opts.cluster, logger: this.#opts.logger, timeoutMs: this.#opts.readTimeoutMs, onConflict: () => this.#tellHealth() });
      this.#claim = claim;
      await claim.start();
    }
    const state = await this.#reader.run(async (c) => {
      await checkSchema(c);
      return readWholeState(c);
    }, haveSaved ? START_WITH_SAVED_MS : Math.max(this.#opts.readTimeoutMs, 10_000));
    this.mirror.load(state.version, state.rows);
    this.#loaded = true;
    this.#setHealth({ status: 'ok', version: this.mirror.version });
    this.#saveLastKnown();
  }

  /** The engine did not answer at start: serve the saved state, degraded, until a catch-up succeeds. */
  #startFromLastKnown(saved: LastKnown, err: Error): void {
    this.mirror.load(saved.version, saved.records);
    // Large CRLs were not saved: the first catch-up reloads everything, so the copy gets them back.
    this.#reloadOnCatchUp = (saved.omitted ?? 0) > 0;
    this.#loaded = true;
    this.#savedVersion = saved.version;
    this.#setHealth({ status: 'degraded', version: saved.version, reason: `the cluster engine was unreachable at start (${err.message}); serving the last-known state saved ${saved.savedAt} (version ${saved.version})` });
    // The node name is taken once the engine answers (held meanwhile by another node: reported as a conflict).
    this.#claim?.later();
  }

  #savedVersion = -1;
  /** Started from a last-known state that left records out: the next catch-up reads the whole state. */
  #reloadOnCatchUp = false;
  /** Whether the copy holds a real state (a failed start saves nothing over the last one). */
  #loaded = false;
  #saveFailed = false;

  /** Saves this node's copy when it changed since the last save (never while it is not caught up with the engine). */
  #saveLastKnown(): void {
    const path = this.#opts.lastKnownPath;
    if (!path || !this.#loaded || this.mirror.version === this.#savedVersion || this.#health.status !== 'ok') return;
    const version = this.mirror.version;
    try {
      const { records, omitted } = savedRecords(this.mirror.entries());
      writeLastKnown(path, { nodeName: this.nodeName, engine: this.#where, version, savedAt: new Date().toISOString(), records, omitted });
      this.#savedVersion = version;
      this.#saveFailed = false;
    } catch (e) {
      if (!this.#saveFailed) this.#opts.logger?.warn({ file: path, err: (e as Error).message }, 'the last-known cluster state could not be saved (a start while the engine is unreachable would use an older one)');
      this.#saveFailed = true;
    }
  }

  health(): ClusterHealth {
    const conflict = this.#claim?.conflict;
    if (conflict) return { status: 'degraded', version: this.mirror.version, reason: conflict };
    return { ...this.#health, version: this.mirror.version };
  }

  #tellHealth(): void {
    for (const l of this.#healthListeners) l(this.health());
  }

  onHealth(listener: (h: ClusterHealth) => void): () => void {
    this.#healthListeners.add(listener);
    return () => this.#healthListeners.delete(listener);
  }

  #setHealth(h: ClusterHealth): void {
    const changed = h.status !== this.#health.status;
    this.#health = h;
    if (changed) {
      if (h.status === 'degraded') this.#opts.logger?.warn({ reason: h.reason }, 'cluster store degraded: serving the last-known state, changes answer 503');
      else this.#opts.logger?.info({ version: h.version }, 'cluster store reachable again; caught up');
      for (const l of this.#healthListeners) l(this.health());
    }
  }

  /**
   * Catches up from the change log. Concurrent calls share one run, and a call made during a run
   * causes one more run after it (so a notification arriving mid-run is never missed).
   */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    const run = async (): Promise<void> => {
      do {
        this.#again = false;
        await this.#syncOnce();
      } while (this.#again && !this.#closed);
    };
    this.#syncing = run().finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  async #syncOnce(): Promise<void> {
    this.stats.syncs++;
    try {
      const from = this.mirror.version;
      const reload = this.#reloadOnCatchUp;
      const read = await this.#reader.run((c) => readSince(c, from, reload), this.#opts.readTimeoutMs);
      if (read.full) {
        const changed = this.mirror.replace(read.head, read.rows);
        this.stats.fullResyncs++;
        this.#reloadOnCatchUp = false;
        if (reload) this.#opts.logger?.info({ from, to: read.head, changed }, 'caught up with the cluster engine: reloaded the whole state (the last-known state had left large CRLs out)');
        else this.#opts.logger?.warn({ from, to: read.head, changed }, 'cluster change log pruned past this node\'s last version (away longer than cluster.changeRetention): reloaded the whole state');
      } else {
        // Each row carries the key's current value (a later version may have changed it again):
        // applying them in order ends in the state of the last version read.
        const rows = read.rows;
        const last = rows.length ? Number(rows[rows.length - 1]!.version) : this.mirror.version;
        this.mirror.apply(last, rows.map((r) => ({ ns: r.ns, key: r.key, value: r.value ?? undefined })));
      }
      this.#setHealth({ status: 'ok', version: this.mirror.version });
    } catch (err) {
      this.#setHealth({ status: 'degraded', version: this.mirror.version, reason: (err as Error).message });
      throw err;
    }
  }

  /**
   * Deletes change-log rows older than `cluster.changeRetention`, whole versions at a time (at
   * most PRUNE_BATCH per run), by whichever node holds the prune lock now; every few polls.
   */
  #maybePrune(): void {
    const retention = this.#opts.cluster.changeRetention;
    const every = Math.min(Math.max(this.#opts.cluster.pollInterval, retention / 10), 60_000);
    if (this.#closed || Date.now() - this.#lastPrune < every) return;
    this.#lastPrune = Date.now();
    void this.#writer
      .run((c) => pruneChanges(c, retention, PRUNE_BATCH, LOCK_CLASS), this.#opts.writeTimeoutMs)
      .then((n) => {
        this.stats.prunedChanges += n;
      })
      .catch(() => undefined); // the engine is away: the next poll tries again
  }

  /**
   * Runs `fn` in one engine transaction and commits it before resolving; the node's copy holds
   * the change when this resolves. No local change without a commit: on failure nothing changes.
   */
  async write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let outcome: WriteOutcome<T>;
    try {
      outcome = await this.#writer.run((c) => commitWrite(c, this.nodeName, fn), this.#opts.writeTimeoutMs);
    } catch (err) {
      const e = toStoreError(err, 'cluster write');
      if ((e as StoreError).code === 'ERR_STORE_UNAVAILABLE') this.#setHealth({ status: 'degraded', version: this.mirror.version, reason: e.message });
      throw e;
    }
    if (outcome.version !== undefined) await this.#applyOwn(outcome.version, outcome.changes);
    return outcome.result;
  }

  /** Our own commit: applied at once when it is the next version, else by catching up. */
  async #applyOwn(version: number, changes: Change[]): Promise<void> {
    if (this.#syncing === undefined && this.mirror.version === version - 1) {
      this.mirror.apply(version, changes);
      return;
    }
    while (this.mirror.version < version && !this.#closed) {
      try {
        await this.sync();
      } catch {
        // Committed but not yet read back: apply it (the next catch-up rewrites the same values).
        this.mirror.applyAhead(changes);
        return;
      }
    }
  }

  /**
   * Runs `fn` holding the cluster-wide advisory lock `name` (a transaction-level lock on a
   * connection of its own, released by its commit or by the engine when the connection dies),
   * after catching up, so `fn` sees what the previous holder wrote.
   */
  async lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    // The lock's transaction stays open, silent, while `fn` runs (a CRL download, a signature):
    // no idle-in-transaction limit there (the keepalives still end a dead host's session); its
    // wait for the lock is bounded here by lockMs, and by the engine a little after.
    const lockLimits = { idleInTransactionMs: 0, lockTimeoutMs: this.#opts.lockTimeoutMs + this.#opts.readTimeoutMs };
    const unlock = await takeLock(this.#client('lock', lockLimits), name, { answerMs: this.#opts.readTimeoutMs, lockMs: this.#opts.lockTimeoutMs });
    try {
      await this.sync();
      return await fn();
    } finally {
      await unlock();
    }
  }

  async close(): Promise<void> {
    this.#saveLastKnown();
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    this.#listener.close();
    await Promise.all([this.#writer.close(), this.#reader.close(), this.#claim?.close()]);
  }
}
