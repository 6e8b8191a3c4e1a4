import type { CommandContext } from './context.js';
import type { FetchLike } from '@harper-tls/revocation';

/**
 * Progress for work that can take more than a second (RSA key generation, CRL downloads).
 *
 * Policy: nothing is printed for a task that ends within `afterMs` (default 1000 ms). A slower task
 * prints a start line to stderr when the threshold passes and a "done in X s" line at the end;
 * on a TTY the start line is rewritten in place with live counts (bytes received). stderr is used
 * whether or not it is a TTY: a CI log then explains a pause, and stdout stays machine-readable.
 * `HARPER_TLS_PROGRESS=0` silences it; `HARPER_TLS_PROGRESS_AFTER_MS=N` changes the threshold.
 */
export interface ProgressOptions {
  write(text: string): void;
  /** Rewrite the line in place with live details; otherwise plain start and end lines only. */
  tty: boolean;
  /** Nothing is printed for a task that ends sooner, ms; 0 prints every task at once. Default 1000. */
  afterMs?: number;
  /** Default true. */
  enabled?: boolean;
  /** Clock, ms. Default `Date.now`. */
  now?: () => number;
}

export interface ProgressTask {
  /** A live detail such as "1.5 MB of 200 MB"; redrawn on a TTY at most every 100 ms. */
  update(detail: string): void;
  done(detail?: string): void;
  fail(detail?: string): void;
}

export interface Progress {
  start(label: string): ProgressTask;
  /** Runs `fn` as one task: done when it resolves, failed when it throws. */
  run<T>(label: string, fn: (task: ProgressTask) => Promise<T>): Promise<T>;
}

const REDRAW_MS = 100;

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const afterMs = opts.afterMs ?? 1000;
  // On a TTY, one shown task owns the line and redraws it; once two are shown together,
  // every later line is plain so they cannot overwrite each other.
  let inPlace: object | undefined;
  let plainOnly = !opts.tty;

  function start(label: string): ProgressTask {
    const t0 = now();
    const self = {};
    let shown = false;
    let ended = false;
    let detail = '';
    let lastDraw = 0;
    const draw = () => {
      lastDraw = now();
      opts.write(`\r\x1b[K${label}... ${detail}`);
    };
    const show = () => {
      if (ended || opts.enabled === false) return;
      shown = true;
      if (inPlace && inPlace !== self) {
        opts.write('\n');
        inPlace = undefined;
        plainOnly = true;
      }
      if (plainOnly) opts.write(`${label}...\n`);
      else {
        inPlace = self;
        draw();
      }
    };
    const timer = afterMs > 0 ? setTimeout(show, afterMs) : undefined;
    timer?.unref?.();
    if (afterMs <= 0) show();
    const end = (word: string, last?: string) => {
      if (ended) return;
      ended = true;
      if (timer) clearTimeout(timer);
      if (!shown) return;
      const seconds = ((now() - t0) / 1000).toFixed(1);
      const info = last ?? detail;
      const line = `${label}: ${word} ${seconds} s${info ? ` (${info})` : ''}\n`;
      if (inPlace === self) {
        opts.write(`\r\x1b[K${line}`);
        inPlace = undefined;
      } else opts.write(line);
    };
    return {
      update(d) {
        detail = d;
        if (shown && !ended && inPlace === self && now() - lastDraw >= REDRAW_MS) draw();
      },
      done: (d) => end('done in', d),
      fail: (d) => end('failed after', d),
    };
  }

  return {
    start,
    async run(label, fn) {
      const task = start(label);
      try {
        const result = await fn(task);
        task.done();
        return result;
      } catch (err) {
        task.fail();
        throw err;
      }
    },
  };
}

/** The progress of a command: stderr, its TTY-ness, and the HARPER_TLS_PROGRESS* variables. */
export function progressFor(ctx: CommandContext): Progress {
  const flag = (ctx.env.HARPER_TLS_PROGRESS ?? '').toLowerCase();
  const after = Number(ctx.env.HARPER_TLS_PROGRESS_AFTER_MS);
  return createProgress({
    write: ctx.stderr,
    tty: ctx.stderrIsTTY === true,
    enabled: !['0', 'off', 'false', 'no'].includes(flag),
    afterMs: ctx.env.HARPER_TLS_PROGRESS_AFTER_MS !== undefined && Number.isFinite(after) && after >= 0 ? after : 1000,
  });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The fetch shape @harper-tls/revocation calls. */
export type { FetchLike };

/**
 * Wraps the fetch handed to the revocation checker so each download is a progress task that
 * counts the bytes of the body as the checker reads them ("3.1 MB of 200 MB" when the server
 * sends Content-Length). The checker's timeout and size limit still apply: an abort ends the task.
 */
export function progressFetch(progress: Progress, inner: FetchLike = globalThis.fetch as unknown as FetchLike): FetchLike {
  return async (url, init) => {
    const task = progress.start(init.method === 'POST' ? `Asking the OCSP responder ${url}` : `Downloading ${url}`);
    init.signal?.addEventListener('abort', () => task.fail('aborted'), { once: true });
    let res: Response;
    try {
      res = await inner(url, init);
    } catch (err) {
      task.fail();
      throw err;
    }
    if (!res.body) {
      task.done();
      return res;
    }
    const declared = Number(res.headers.get('content-length'));
    const total = Number.isFinite(declared) && declared > 0 ? declared : undefined;
    let received = 0;
    const sizes = () => (total ? `${formatBytes(received)} of ${formatBytes(total)}` : formatBytes(received));
    const reader = res.body.getReader();
    const counted = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            task.done(formatBytes(received));
            controller.close();
            return;
          }
          received += value.byteLength;
          task.update(sizes());
          controller.enqueue(value);
        } catch (err) {
          task.fail(sizes());
          controller.error(err);
        }
      },
      cancel(reason) {
        task.fail(sizes());
        return reader.cancel(reason);
      },
    });
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
