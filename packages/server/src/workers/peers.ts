import cluster from 'node:cluster';
import { ServerError } from '../errors.js';
import { isHarperMessage, WORKER_INDEX_ENV, type PrimaryMessage, type WorkerMessage } from './protocol.js';

/** What a topic's handler gets on the other workers; it resolves once the change is applied there. */
export type TopicHandler = (payload: unknown) => Promise<void> | void;

/**
 * One worker's view of the others (SPEC.md section 8). `broadcast` resolves only when every other
 * worker has applied the change, so an operation can answer after it and be true on every worker.
 */
export interface WorkerPeers {
  readonly index: number;
  readonly count: number;
  /** TLS session ticket keys shared by every worker (48 bytes), so a ticket issued by one resumes on another. */
  readonly ticketKeys: Buffer;
  broadcast(topic: string, payload?: unknown): Promise<void>;
  on(topic: string, handler: TopicHandler): void;
  /** Runs `fn` while no other worker runs anything under `key` (node-wide single flight). */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Every worker's metrics, aggregated by the primary (prom-client's cluster aggregation). */
  clusterMetrics(): Promise<{ contentType: string; body: string }>;
  /** Tells the primary this worker serves (its listeners, what the start printed). */
  ready(info: Extract<WorkerMessage, { ht: 'ready' }>): void;
  /** Resolves when the primary asks this worker to stop (SIGTERM on the primary) or goes away. */
  readonly stopRequested: Promise<string>;
  /** Answers the primary's metric collection with this worker's metrics JSON. */
  provideMetrics(fn: () => Promise<unknown[]>): void;
  /** What reopens this worker's hdb.log when the primary rotated it (the primary waits for it before compressing). */
  onLogReopen(fn: () => Promise<void>): void;
}

/** How long a broadcast waits for the other workers before it fails (the operation then answers 500). */
export const BROADCAST_TIMEOUT_MS = 15_000;

/** How a worker talks to its primary: the process's IPC channel (a fake one in tests). */
export interface PrimaryChannel {
  send(m: WorkerMessage): void;
  onMessage(fn: (m: unknown) => void): void;
  onDisconnect(fn: () => void): void;
}

/**
 * In a cluster worker started by `runWorkers`: the connection to the primary; otherwise undefined.
 * @param channel instead of the process's IPC channel (tests)
 */
export async function connectPeers(channel?: PrimaryChannel): Promise<WorkerPeers | undefined> {
  if (!channel && (!cluster.isWorker || process.env[WORKER_INDEX_ENV] === undefined || !process.send)) return undefined;
  const io: PrimaryChannel = channel ?? { send: (m) => process.send!(m), onMessage: (fn) => process.on('message', fn), onDisconnect: (fn) => process.once('disconnect', fn) };
  const send = (m: WorkerMessage) => io.send(m);
  const handlers = new Map<string, TopicHandler[]>();
  /**
   * Changes sent before this worker registered the topic's handler (between connectPeers and the
   * bootstrap's `on`): acknowledged unapplied, the sender would answer before the change is true
   * here. They wait for the handler; once the worker serves, a topic nobody handles is acknowledged.
   */
  const early = new Map<string, Array<Extract<PrimaryMessage, { ht: 'apply' }>>>();
  let serving = false;
  const apply = (msg: Extract<PrimaryMessage, { ht: 'apply' }>) => {
    const list = handlers.get(msg.topic) ?? [];
    void (async () => {
      let error: string | undefined;
      for (const h of list) {
        try {
          await h(msg.payload);
        } catch (err) {
          error = `${msg.topic}: ${(err as Error).message}`;
        }
      }
      send({ ht: 'applied', id: msg.id, ...(error ? { error } : {}) });
    })();
  };
  const pending = new Map<number, (m: PrimaryMessage) => void>();
  let metricsSource: () => Promise<unknown[]> = async () => [];
  // Until the log is open there is nothing to reopen: it will open the new hdb.log.
  let reopenLog: () => Promise<void> = async () => {};
  let nextId = 1;
  let stop!: (why: string) => void;
  const stopRequested = new Promise<string>((r) => (stop = r));
  let resolveInit!: (m: Extract<PrimaryMessage, { ht: 'init' }>) => void;
  const init = new Promise<Extract<PrimaryMessage, { ht: 'init' }>>((r) => (resolveInit = r));

  io.onMessage((m: unknown) => {
    if (!isHarperMessage(m)) return;
    const msg = m as PrimaryMessage;
    switch (msg.ht) {
      case 'init':
        return resolveInit(msg);
      case 'apply': {
        if (handlers.has(msg.topic) || serving) return apply(msg);
        early.set(msg.topic, [...(early.get(msg.topic) ?? []), msg]);
        return;
      }
      case 'metrics-json?':
        void metricsSource().then(
          (json) => send({ ht: 'metrics-json', id: msg.id, json }),
          () => send({ ht: 'metrics-json', id: msg.id, json: [] }),
        );
        return;
      case 'log-reopen':
        void reopenLog()
          .catch(() => undefined)
          .then(() => process.connected && send({ ht: 'log-reopened', id: msg.id }));
        return;
      case 'stop':
        return stop('SIGTERM');
      default: {
        const id = (msg as { id?: number }).id;
        if (id !== undefined) pending.get(id)?.(msg);
      }
    }
  });
  // The primary gone (killed): this worker stops too rather than serve unsupervised.
  io.onDisconnect(() => stop('disconnect'));

  const request = <T extends PrimaryMessage>(m: WorkerMessage & { id: number }, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(m.id);
        reject(new ServerError('ERR_SERVER_WORKERS', `${what}: no answer from the primary process within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(m.id, (reply) => {
        clearTimeout(timer);
        pending.delete(m.id);
        resolve(reply as T);
      });
      send(m);
    });

  send({ ht: 'init?' });
  const { index, count, ticketKeys } = await init;
  return {
    index,
    count,
    ticketKeys: Buffer.from(ticketKeys),
    stopRequested,
    on(topic, handler) {
      const list = handlers.get(topic) ?? [];
      list.push(handler);
      handlers.set(topic, list);
      const waiting = early.get(topic);
      early.delete(topic);
      // After the current turn, so every handler registered with this one applies them too.
      if (waiting) queueMicrotask(() => waiting.forEach(apply));
    },
    async broadcast(topic, payload) {
      const id = nextId++;
      const done = await request<Extract<PrimaryMessage, { ht: 'done' }>>({ ht: 'broadcast', id, topic, payload }, BROADCAST_TIMEOUT_MS, `applying ${topic} on every worker`);
      if (done.errors.length) throw new ServerError('ERR_SERVER_WORKERS', `not applied on every worker: ${done.errors.join('; ')}`);
    },
    async exclusive(key, fn) {
      const id = nextId++;
      // No timeout on the wait itself: the holder's own work is bounded (download timeouts), and
      // the primary releases the locks of a worker that dies.
      await new Promise<void>((resolve) => {
        pending.set(id, () => {
          pending.delete(id);
          resolve();
        });
        send({ ht: 'lock', id, key });
      });
      try {
        return await fn();
      } finally {
        send({ ht: 'unlock', id });
      }
    },
    async clusterMetrics() {
      const id = nextId++;
      const m = await request<Extract<PrimaryMessage, { ht: 'metrics' }>>({ ht: 'metrics?', id }, BROADCAST_TIMEOUT_MS, 'collecting /metrics');
      return { contentType: m.contentType, body: m.text };
    },
    ready(info) {
      serving = true;
      for (const waiting of early.values()) waiting.forEach(apply);
      early.clear();
      send(info);
    },
    provideMetrics(fn) {
      metricsSource = fn;
    },
    onLogReopen(fn) {
      reopenLog = fn;
    },
  };
}
