import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { Counter, Gauge, Registry } from 'prom-client';

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
import type { Logger } from '../logger.js';
import { ServerError } from '../errors.js';
import { isHarperMessage, WORKER_INDEX_ENV, type PrimaryMessage, type WorkerMessage } from './protocol.js';
import { LockTable } from './locks.js';
import { startLogRotation } from './log-rotation.js';
import { MetricsContinuity } from './metrics-continuity.js';
import type { LoggingConfig } from '@harper-tls/config';

export interface RunWorkersOptions {
  count: number;
  /** The script each worker runs (the CLI), and its arguments: the same start command. */
  exec: string;
  args: string[];
  /** The workers' environment (the CLI's); the worker index is added. */
  env?: Record<string, string | undefined>;
  logger: Logger;
  /** How long a stop waits for the workers' in-flight requests (SPEC.md section 8: at most 10 s). */
  drainMs?: number;
  /** How long the first start of a worker may take before the start fails. */
  startTimeoutMs?: number;
  /**
   * hdb.log rotation, done by the primary alone (workers open the file shared, `openLog(..., { shared: true })`):
   * the logging configuration and how the primary reopens its own log.
   */
  log?: { logging: LoggingConfig; reopen(): Promise<void> };
}

type Ready = Extract<WorkerMessage, { ht: 'ready' }>;

export interface WorkerPool {
  /** What worker 0 reported when it was ready (its listeners, the admin password it created). */
  readonly first: Ready;
  /** Replacements started after a worker died (also `harper_tls_worker_restarts_total`). */
  readonly restarts: number;
  /** Indexes and pids of the live workers. */
  workers(): Array<{ index: number; pid: number }>;
  /** Stops every worker (each drains its connections) and resolves when all have exited. */
  close(): Promise<void>;
}

/** A worker that dies this many times within a minute is not started again: the pool stops. */
const MAX_RESTARTS_PER_MINUTE = 10;
const STOP_GRACE_EXTRA_MS = 2_000;

/**
 * The primary process of a multi-worker server (node:cluster): forks `count` workers that each
 * run the very same start command, lets the cluster module hand accepted connections out round
 * robin on every listener's one port, relays run-time changes between workers (acknowledged
 * by all before the sender answers), holds node-wide locks, aggregates `/metrics`, replaces a
 * worker that dies (same index) and drains them all on stop.
 */
export async function runWorkers(opts: RunWorkersOptions): Promise<WorkerPool> {
  const { logger } = opts;
  const drainMs = opts.drainMs ?? 10_000;
  const ticketKeys = randomBytes(48);
  const byIndex = new Map<number, Worker>();
  const locks = new LockTable();
  const registry = new Registry();
  const restartCounter = new Counter({ name: 'harper_tls_worker_restarts_total', help: 'Workers replaced after they died', registers: [registry] });
  new Gauge({ name: 'harper_tls_workers', help: 'Workers configured (threads.count)', registers: [registry] }).set(opts.count);
  let restarts = 0;
  let stopping = false;
  const recentDeaths: number[] = [];
  let nextId = 1;
  // Relayed broadcasts: id at the primary → who asked, with what id, and who has yet to answer.
  const broadcasts = new Map<number, { from: Worker; id: number; waiting: Set<Worker>; errors: string[]; timer: NodeJS.Timeout }>();
  const collections = new Map<number, { waiting: Set<Worker>; parts: MetricsJson[]; finish: () => void }>();
  const reopens = new Map<number, { waiting: Set<Worker>; finish: () => void }>();
  // A dead worker's counts stay in /metrics; no summed counter goes down (see metrics-continuity.ts).
  const continuity = new MetricsContinuity();

  cluster.setupPrimary({ exec: opts.exec, args: opts.args, serialization: 'advanced' });
  // Round robin by the primary (the default on Linux; said here so it holds everywhere).
  cluster.schedulingPolicy = cluster.SCHED_RR;

  const send = (w: Worker, m: PrimaryMessage) => {
    if (w.isConnected()) w.send(m);
  };
  const live = () => [...byIndex.values()].filter((w) => w.isConnected());

  const finishBroadcast = (key: number) => {
    const b = broadcasts.get(key);
    if (!b) return;
    broadcasts.delete(key);
    clearTimeout(b.timer);
    send(b.from, { ht: 'done', id: b.id, errors: b.errors });
  };

  const onMessage = (w: Worker, index: number, m: unknown, readyCb: (r: Ready) => void) => {
    if (!isHarperMessage(m)) return;
    const msg = m as WorkerMessage;
    switch (msg.ht) {
      case 'init?':
        return send(w, { ht: 'init', index, count: opts.count, ticketKeys });
      case 'ready':
        return readyCb(msg);
      case 'broadcast': {
        const key = nextId++;
        const others = live().filter((o) => o !== w);
        const timer = setTimeout(() => {
          const b = broadcasts.get(key);
          if (!b) return;
          for (const o of b.waiting) b.errors.push(`worker ${indexOf(o)} did not apply ${msg.topic} within 10 s`);
          logger.error({ topic: msg.topic, workers: [...b.waiting].map(indexOf) }, 'a change was not applied by every worker in time');
          finishBroadcast(key);
        }, 10_000);
        broadcasts.set(key, { from: w, id: msg.id, waiting: new Set(others), errors: [], timer });
        for (const o of others) send(o, { ht: 'apply', id: key, topic: msg.topic, payload: msg.payload });
        if (others.length === 0) finishBroadcast(key);
        return;
      }
      case 'applied': {
        const b = broadcasts.get(msg.id);
        if (!b) return;
        b.waiting.delete(w);
        if (msg.error) b.errors.push(`worker ${index}: ${msg.error}`);
        if (b.waiting.size === 0) finishBroadcast(msg.id);
        return;
      }
      case 'lock':
        return locks.acquire(msg.key, w.id, msg.id, () => send(w, { ht: 'granted', id: msg.id }));
      case 'unlock':
        return locks.release(w.id, msg.id);
      case 'metrics?':
        return void collect().then(
          (text) => send(w, { ht: 'metrics', id: msg.id, text, contentType: registry.contentType }),
          (err) => {
            logger.error({ err: (err as Error).message }, 'metrics of the workers could not be aggregated');
            send(w, { ht: 'metrics', id: msg.id, text: '', contentType: registry.contentType });
          },
        );
      case 'log-reopened': {
        const r = reopens.get(msg.id);
        if (r && r.waiting.delete(w) && r.waiting.size === 0) r.finish();
        return;
      }
      case 'metrics-json': {
        const c = collections.get(msg.id);
        if (!c) return;
        c.waiting.delete(w);
        c.parts.push(msg.json as MetricsJson);
        continuity.seen(index, msg.json as MetricsJson);
        if (c.waiting.size === 0) c.finish();
        return;
      }
    }
  };

  const indexOf = (w: Worker) => [...byIndex.entries()].find(([, x]) => x === w)?.[0] ?? -1;

  /** Every worker's registry JSON plus the primary's own, summed by prom-client's aggregator (counters add up; `worker` labels stay apart). */
  const collect = async (): Promise<string> => {
    const key = nextId++;
    const workers = live();
    const parts = await new Promise<MetricsJson[]>((resolve) => {
      const parts: MetricsJson[] = [];
      const finish = () => {
        clearTimeout(timer);
        collections.delete(key);
        resolve(parts);
      };
      const timer = setTimeout(finish, 5_000);
      collections.set(key, { waiting: new Set(workers), parts, finish });
      for (const w of workers) send(w, { ht: 'metrics-json?', id: key });
      if (workers.length === 0) finish();
    });
    parts.push(await registry.getMetricsAsJSON());
    return (await continuity.aggregate(parts)).metrics();
  };

  /** Every live worker and the primary reopen hdb.log (after a rotation renamed it); a worker that does not answer within 5 s is not waited for. */
  const reopenAll = async (): Promise<void> => {
    const key = nextId++;
    const workers = live();
    const answered = new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        if (reopens.get(key)?.waiting.size) logger.warn({ workers: [...reopens.get(key)!.waiting].map(indexOf) }, 'a worker did not reopen hdb.log within 5 s after a rotation');
        reopens.delete(key);
        resolve();
      };
      const timer = setTimeout(finish, 5_000);
      reopens.set(key, { waiting: new Set(workers), finish });
      for (const w of workers) send(w, { ht: 'log-reopen', id: key });
      if (workers.length === 0) finish();
    });
    await Promise.all([answered, opts.log?.reopen()]);
  };
  const rotation = opts.log ? startLogRotation({ logging: opts.log.logging, reopenAll }) : undefined;

  const fork = (index: number): Promise<Ready> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork({ ...opts.env, [WORKER_INDEX_ENV]: String(index) });
      byIndex.set(index, w);
      let ready = false;
      w.on('message', (m) => onMessage(w, index, m, (r) => {
        ready = true;
        logger.info({ worker: index, pid: w.process.pid }, 'worker serving');
        resolve(r);
      }));
      w.once('exit', (code, signal) => {
        locks.releaseAll(w.id);
        // Broadcasts waiting on it need not: a dead worker holds no state to update (its replacement starts from the store).
        for (const [key, b] of broadcasts) {
          if (b.from === w) {
            clearTimeout(b.timer);
            broadcasts.delete(key);
          } else if (b.waiting.delete(w) && b.waiting.size === 0) finishBroadcast(key);
        }
        for (const c of collections.values()) if (c.waiting.delete(w) && c.waiting.size === 0) c.finish();
        for (const r of reopens.values()) if (r.waiting.delete(w) && r.waiting.size === 0) r.finish();
        if (byIndex.get(index) === w) byIndex.delete(index);
        if (stopping) return;
        void continuity.retire(index);
        if (!ready) return reject(new ServerError('ERR_SERVER_WORKERS', `worker ${index} exited before it served (exit code ${code ?? signal}); see its error above`));
        const now = Date.now();
        recentDeaths.push(now);
        while (recentDeaths.length && recentDeaths[0]! < now - 60_000) recentDeaths.shift();
        restarts++;
        restartCounter.inc();
        if (recentDeaths.length > MAX_RESTARTS_PER_MINUTE) {
          logger.error({ worker: index, code, signal }, `worker died ${recentDeaths.length} times within a minute; not replacing it again`);
          return;
        }
        logger.error({ worker: index, pid: w.process.pid, code, signal }, 'worker died; starting a replacement');
        fork(index).catch((err) => logger.error({ worker: index, err: (err as Error).message }, 'the replacement worker did not start'));
      });
    });

  const stopAll = async () => {
    stopping = true;
    const workers = [...byIndex.values()];
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => {
              logger.warn({ worker: indexOf(w) }, `worker did not stop within ${drainMs + STOP_GRACE_EXTRA_MS} ms; killing it`);
              w.process.kill('SIGKILL');
            }, drainMs + STOP_GRACE_EXTRA_MS);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            send(w, { ht: 'stop' });
          }),
      ),
    );
    // After the workers wrote their last lines: no rotation left half done.
    await rotation?.close();
  };

  let first: Ready;
  try {
    // Worker 0 first: it does the first-start work (admin user, key sweep) alone; then the rest together.
    first = await withTimeout(fork(0), opts.startTimeoutMs ?? 60_000, 'worker 0');
    await Promise.all(Array.from({ length: opts.count - 1 }, (_, i) => withTimeout(fork(i + 1), opts.startTimeoutMs ?? 60_000, `worker ${i + 1}`)));
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    first,
    get restarts() {
      return restarts;
    },
    workers: () => [...byIndex.entries()].map(([index, w]) => ({ index, pid: w.process.pid ?? 0 })),
    close: stopAll,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new ServerError('ERR_SERVER_WORKERS', `${what} did not start within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
