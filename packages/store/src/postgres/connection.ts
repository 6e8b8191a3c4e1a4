import type pg from 'pg';
import { StoreError } from '../errors.js';

/** SQLSTATE classes that mean the connection (not the statement) failed. */
const CONNECTION_CLASSES = ['08', '57', '53'];
/** The engine ended this session: idle_in_transaction_session_timeout. */
const SESSION_ENDED = '25P03';
/** lock_timeout: another node holds the lock too long (a write waiting its turn), as an engine not answering. */
const LOCK_TIMEOUT = '55P03';

/** True for a failure of the connection (network, TLS, the engine going away), not of a statement. */
export function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (code === SESSION_ENDED) return true;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return CONNECTION_CLASSES.includes(code.slice(0, 2));
  return true;
}

interface Pending {
  settled: boolean;
  reject(err: unknown): void;
}

/**
 * One engine connection, connected on first use and again after a failure, running one operation
 * at a time. Every operation has a deadline counted from its start: past it the caller gets
 * ERR_STORE_UNAVAILABLE, the connection stuck in it (an engine that is stopped, not closed) is
 * destroyed, and every operation queued behind it fails at once with the same error. So a
 * change answers within the deadline when the engine is away, while a burst of changes to a
 * healthy engine waits its turn instead of timing out.
 */
export class Connection {
  #client: pg.Client | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  /** Operations queued behind the running one. */
  readonly #pending = new Set<Pending>();
  #closed = false;

  constructor(
    private readonly make: () => pg.Client,
    private readonly what: string,
  ) {}

  run<T>(fn: (client: pg.Client) => Promise<T>, timeoutMs: number): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError('ERR_STORE_UNAVAILABLE', `${this.what}: the store is closed`));
    return new Promise<T>((resolve, reject) => {
      const op: Pending = { settled: false, reject };
      this.#pending.add(op);
      this.#chain = this.#chain.then(async () => {
        this.#pending.delete(op);
        if (op.settled) return;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new StoreError('ERR_STORE_UNAVAILABLE', `${this.what}: the cluster engine did not answer within ${timeoutMs} ms`);
        const deadline = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(timeout), timeoutMs)));
        const work = (async () => {
          const client = await this.#connect();
          try {
            return await fn(client);
          } catch (err) {
            if (isConnectionFailure(err)) this.reset();
            throw err;
          }
        })();
        work.catch(() => undefined);
        try {
          const result = await Promise.race([work, deadline]);
          op.settled = true;
          resolve(result);
        } catch (err) {
          op.settled = true;
          if (err === timeout) {
            // A stopped engine: drop the stuck connection, and fail what waits behind this
            // operation at once (it would meet the same engine) rather than one timeout each.
            this.reset();
            this.#failPending(timeout);
          }
          reject(toStoreError(err, this.what));
        } finally {
          clearTimeout(timer);
        }
      });
    });
  }

  #failPending(err: StoreError): void {
    for (const op of this.#pending) {
      op.settled = true;
      op.reject(err);
    }
    this.#pending.clear();
  }

  async #connect(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = this.make();
    client.on('error', () => {
      if (this.#client === client) this.#client = undefined;
    });
    this.#client = client;
    try {
      await client.connect();
    } catch (err) {
      this.reset();
      throw err;
    }
    return client;
  }

  /** Drops the connection at once (without waiting for a stopped engine to answer). */
  reset(): void {
    const c = this.#client;
    this.#client = undefined;
    if (c) destroyClient(c);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#failPending(new StoreError('ERR_STORE_UNAVAILABLE', `${this.what}: the store is closed`));
    const c = this.#client;
    this.#client = undefined;
    if (c) await Promise.race([c.end().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]).finally(() => destroyClient(c));
  }
}

export function destroyClient(c: pg.Client): void {
  const stream = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  try {
    stream?.destroy();
  } catch {
    // already gone
  }
  c.end().catch(() => undefined);
}

export function toStoreError(err: unknown, what: string): Error {
  if (err instanceof StoreError) return err;
  if (isConnectionFailure(err)) return new StoreError('ERR_STORE_UNAVAILABLE', `${what}: the cluster engine is unreachable (${(err as Error)?.message ?? String(err)})`, { cause: err });
  if ((err as { code?: unknown })?.code === LOCK_TIMEOUT) return new StoreError('ERR_STORE_UNAVAILABLE', `${what}: the cluster engine is busy (${(err as Error).message})`, { cause: err });
  return new StoreError('ERR_STORE_ENGINE', `${what}: the cluster engine refused the statement (${(err as Error).message})`, { cause: err });
}
