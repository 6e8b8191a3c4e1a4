import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync } from 'node:fs';
import { copyFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { LoggingConfig } from '@harper-tls/config';
import { LOG_FILE, rotatedName } from '../log-destination.js';
import { reportOnce } from '../logging/report-once.js';
import { nextIntervalBoundary } from './log-interval.js';

export interface LogRotationOptions {
  logging: LoggingConfig;
  /**
   * Asks every process that writes hdb.log (the workers and the primary itself) to reopen it, and
   * resolves once all have: from then on no process writes the renamed file any more.
   */
  reopenAll(): Promise<void>;
  /** How often hdb.log's size is looked at (default 100 ms): a rotated file exceeds maxSize by at most what was logged meanwhile. */
  checkMs?: number;
  now?: () => Date;
  stderr?: (text: string) => void;
}

export interface LogRotation {
  /** Rotates now (when hdb.log is not empty); resolves with the rotated file's path. */
  rotate(): Promise<string | undefined>;
  /** Files rotated so far. */
  readonly rotations: number;
  /** Stops the timers and waits for a rotation under way. */
  close(): Promise<void>;
}

/** Creates hdb.log (and its folder) when missing; false when it cannot (each writer reports its own open error). */
function createIfMissing(file: string, root: string): boolean {
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
    return true;
  } catch {
    return false;
  }
}

/** After a failed rotation, the next attempt waits this long (a removed folder is not retried 10 times a second). */
const RETRY_AFTER_MS = 5_000;

/**
 * Log rotation of a multi-worker server (SPEC.md sections 8 and 11), run by the primary alone:
 * by size (hdb.log looked at every `checkMs`) and/or at interval boundaries (as rotating-file-stream
 * computes them), with the same file names as a single process. A rotation renames hdb.log, asks
 * every process to reopen (each finishes its write in progress on the old file first), and only
 * then compresses the renamed file: every line is whole, in the old file or the new one.
 * A failure (folder removed, disk full) is said on stderr once and retried later; it never throws.
 * Undefined when rotation is off.
 */
export function startLogRotation(opts: LogRotationOptions): LogRotation | undefined {
  const { logging } = opts;
  const { rotation } = logging;
  if (!logging.file || !rotation.enabled || (rotation.maxSizeBytes === null && rotation.interval === null)) return undefined;
  const now = opts.now ?? (() => new Date());
  const once = reportOnce(opts.stderr);
  const file = join(logging.root, LOG_FILE);
  const name = rotatedName(logging);
  let rotations = 0;
  let closed = false;
  let retryAt = 0;
  /**
   * hdb.log has existed since this started: until then a missing file is one the processes are
   * still opening, not a removed one. It is created here (append mode, as every writer opens it),
   * so that a removal right after start is told apart from a file not opened yet.
   */
  let seen = createIfMissing(file, logging.root);
  let busy: Promise<unknown> = Promise.resolve();
  let sizeTimer: NodeJS.Timeout | undefined;
  let intervalTimer: NodeJS.Timeout | undefined;

  const exists = (p: string) => stat(p).then(() => true, () => false);

  const findName = async (at: Date): Promise<string> => {
    for (let index = 1; index < 1000; index++) {
      const final = join(logging.root, name(at, index));
      const plain = rotation.compress ? final.replace(/\.gz$/, '') : final;
      if (!(await exists(final)) && !(await exists(plain))) return final;
    }
    throw Object.assign(new Error(`no free name for a rotated log file in ${rotation.path} (999 taken for one second)`), { code: 'ENAMES' });
  };

  const rotateNow = async (): Promise<string | undefined> => {
    let size: number;
    try {
      size = (await stat(file)).size;
      seen = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!seen) return undefined;
      // hdb.log removed (or its folder): every process opens it again, creating it.
      once.report('gone', `the log file ${file} was removed; every process reopens it`);
      await opts.reopenAll();
      // Still not there (the folder cannot be made): ask again later, not at every look.
      if (!(await exists(file))) retryAt = Date.now() + RETRY_AFTER_MS;
      return undefined;
    }
    if (size === 0) return undefined;
    await mkdir(rotation.path, { recursive: true, mode: 0o700 });
    const final = await findName(now());
    // Renamed straight into rotation.path; compressed afterwards (the processes may still be writing it until they reopen).
    let staged = rotation.compress ? final.replace(/\.gz$/, '') : final;
    try {
      await rename(file, staged);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // rotation.path on another file system: stage next to hdb.log, copy once nobody writes it.
      staged = join(logging.root, `${LOG_FILE}.rotating-${Date.now()}`);
      await rename(file, staged);
    }
    await opts.reopenAll();
    if (rotation.compress) {
      try {
        await pipeline(createReadStream(staged), createGzip(), createWriteStream(final, { mode: 0o600 }));
        await unlink(staged);
      } catch (err) {
        await unlink(final).catch(() => undefined);
        throw Object.assign(err as Error, { kept: staged });
      }
    } else if (staged !== final) {
      await copyFile(staged, final);
      await unlink(staged);
    }
    rotations++;
    return final;
  };

  const rotate = (): Promise<string | undefined> => {
    const run = busy.then(async () => {
      if (closed) return undefined;
      try {
        const done = await rotateNow();
        once.clear('rotate');
        return done;
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { kept?: string };
        retryAt = Date.now() + RETRY_AFTER_MS;
        once.report('rotate', `log rotation failed (${e.code ?? e.message}: ${e.message})${e.kept ? `; the rotated lines stay uncompressed in ${e.kept}` : ''}; the server keeps serving and retries`);
        return undefined;
      }
    });
    busy = run;
    return run;
  };

  const checkSize = async () => {
    sizeTimer = undefined;
    if (closed) return;
    if (Date.now() >= retryAt) {
      const size = await stat(file).then((s) => s.size, (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? -1 : 0));
      if (size >= 0) seen = true;
      if ((size === -1 && seen) || size >= rotation.maxSizeBytes!) await rotate();
    }
    if (!closed) sizeTimer = setTimeout(checkSize, opts.checkMs ?? 100).unref();
  };

  const armInterval = () => {
    if (closed || rotation.interval === null) return;
    const target = nextIntervalBoundary(rotation.interval, now());
    const tick = () => {
      intervalTimer = undefined;
      if (closed) return;
      const left = target - now().getTime();
      // Long intervals (a month) are waited for in steps setTimeout can take.
      if (left > 0) return void (intervalTimer = setTimeout(tick, Math.min(left, 2 ** 31 - 1)).unref());
      void rotate().then(armInterval);
    };
    intervalTimer = setTimeout(tick, Math.max(1, Math.min(target - now().getTime(), 2 ** 31 - 1))).unref();
  };

  if (rotation.maxSizeBytes !== null) void checkSize();
  armInterval();

  return {
    rotate,
    get rotations() {
      return rotations;
    },
    async close() {
      closed = true;
      if (sizeTimer) clearTimeout(sizeTimer);
      if (intervalTimer) clearTimeout(intervalTimer);
      await busy;
    },
  };
}
