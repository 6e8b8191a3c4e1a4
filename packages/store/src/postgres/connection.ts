import type pg from 'pg';
import { StoreError } from '../errors.js';

/** SQLSTATE classes that mean the connection (not the statement) failed. */
const CONNECTION_CLASSES = ['08', '57', '53'];

/** True for a failure of the connection (network, TLS, the engine going away), not of a statement. */
export function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return CONNECTION_CLASSES.includes(code.slice(0, 2));
  return true;
}

/**
 * One engine connection, connected on first use and again after a failure, running one operation
 * at a time. Every operation has a deadline counted from the call (waiting included): past it the
 * caller gets ERR_STORE_UNAVAILABLE, and a connection stuck in that operation (an engine that is
 * stopped, not closed) is destroyed so the next operation starts on a new one.
 */
export class Connection {
  #client: pg.Client | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    private readonly make: () => pg.Client,
    private readonly what: string,
  ) {}

  run<T>(fn: (client: pg.Client) => Promise<T>, timeoutMs: number): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError('ERR_STORE_UNAVAILABLE', `${this.what}: the store is closed`));
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new StoreError('ERR_STORE_UNAVAILABLE', `${this.what}: the cluster engine did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const work = this.#chain.then(async () => {
      if (timedOut) throw new StoreError('ERR_STORE_UNAVAILABLE', `${this.what}: the cluster engine did not answer within ${timeoutMs} ms`);
      const client = await this.#connect();
      try {
        return await fn(client);
      } catch (err) {
        if (isConnectionFailure(err)) this.reset();
        throw err;
      }
    });
    const result = Promise.race([work, deadline]).finally(() => clearTimeout(timer));
    // The next operation waits for this one to end or to time out (a stuck one is destroyed).
    this.#chain = result.then(
      () => undefined,
      () => {
        if (timedOut) this.reset();
      },
    );
    work.catch(() => undefined);
    return result.catch((err) => {
      throw toStoreError(err, this.what);
    });
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
  return new StoreError('ERR_STORE_ENGINE', `${what}: the cluster engine refused the statement (${(err as Error).message})`, { cause: err });
}
