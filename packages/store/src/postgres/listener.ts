import type pg from 'pg';
import { destroyClient } from './connection.js';
import { CHANNEL } from './schema.js';

export interface ChangeListenerOptions {
  /** A new (unconnected) client for each attempt. */
  client(): pg.Client;
  /** Connecting and LISTEN, after which the attempt is given up and retried. */
  timeoutMs: number;
  /** A version was committed (the NOTIFY payload). */
  onNotify(version: number): void;
  /** Listening (again): whatever was committed meanwhile is to be read from the change log. */
  onListening(): void;
  logger?: { warn(obj: object, msg?: string): void };
}

/** After a lost connection, the next attempt in this long. */
const RETRY_MS = 250;

/**
 * The fast path of catching up: one connection LISTENing on the cluster channel, re-made after
 * any failure (a NOTIFY sent meanwhile is lost, hence `onListening` on every reconnect).
 */
export class ChangeListener {
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly opts: ChangeListenerOptions) {}

  start(): void {
    if (this.#closed) return;
    const client = this.opts.client();
    this.#client = client;
    let dead = false;
    const retry = (err?: unknown) => {
      if (dead) return;
      dead = true;
      clearTimeout(connectTimer);
      destroyClient(client);
      if (this.#client === client) this.#client = undefined;
      if (this.#closed) return;
      if (err) this.opts.logger?.warn({ err: (err as Error).message }, 'cluster change notifications lost; reconnecting (the change log is read on reconnect)');
      this.#retry = setTimeout(() => this.start(), RETRY_MS);
      this.#retry.unref();
    };
    client.on('error', retry);
    client.on('end', () => retry(new Error('connection ended')));
    client.on('notification', (n) => this.opts.onNotify(Number(n.payload)));
    const connectTimer = setTimeout(() => retry(new Error('no answer while connecting')), this.opts.timeoutMs);
    connectTimer.unref();
    client
      .connect()
      .then(() => client.query(`LISTEN ${CHANNEL}`))
      .then(() => {
        clearTimeout(connectTimer);
        this.opts.onListening();
      })
      .catch(retry);
  }

  close(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    if (this.#client) destroyClient(this.#client);
  }
}
