import { join } from 'node:path';
import { pino } from 'pino';
import type { DestinationStream } from 'pino';
import { reportOnce } from './report-once.js';

type SonicBoom = ReturnType<typeof pino.destination> & {
  reopen(file?: string): void;
  _opening?: boolean;
  _ending?: boolean;
  destroyed?: boolean;
  fd: number;
};

/** Lines held in memory while the disk refuses them (ENOSPC); beyond this, new lines are dropped (and said once). */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** How long a reopen or a final flush may take before it is given up (the process must not hang on its log). */
const REOPEN_TIMEOUT_MS = 5_000;

export interface SharedLogFile {
  stream: DestinationStream;
  /** Closes the current file and opens `<root>/hdb.log` again (after the primary renamed it). Resolves when the new file is in use. */
  reopen(): Promise<void>;
  /** Writes what is buffered and closes the file. */
  close(): Promise<void>;
}

/**
 * `<root>/hdb.log` of one process of a multi-worker server (SPEC.md section 8): opened in append
 * mode and never rotated here. The primary alone rotates (renames the file, then asks every
 * process to `reopen()`, as nginx does with USR1). Each line reaches the file in one write(2)
 * of whole lines (sonic-boom joins lines, never splits one below 16 KiB), and O_APPEND writes on
 * a local file do not interleave, so lines from several processes are never torn.
 * Errors (disk full, folder removed) go to stderr once; the stream keeps its lines and retries.
 */
export function openSharedLogFile(root: string, fileName: string, stderr?: (t: string) => void): SharedLogFile {
  const path = join(root, fileName);
  const once = reportOnce(stderr);
  const file = pino.destination({ dest: path, mkdir: true, sync: false, mode: 0o600, maxLength: MAX_BUFFERED_BYTES } as Parameters<typeof pino.destination>[0]) as SonicBoom;
  file.on('error', (err: NodeJS.ErrnoException) => once.report(`error:${err.code}`, `cannot write the log file ${path} (${err.code ?? err.message}); the server keeps serving, log lines are kept in memory (up to 16 MiB) and retried`));
  file.on('drop', () => once.report('drop', `log lines dropped: the log file ${path} did not take them and 16 MiB are waiting`));
  file.on('write', () => once.clear('error:ENOSPC'));

  /** The next 'ready' (a file opened) or 'error' (an open or a write failed), or a timeout. */
  const whenReady = (): Promise<'ready' | 'error' | 'timeout'> =>
    new Promise((resolve) => {
      const done = (how: 'ready' | 'error' | 'timeout') => () => {
        clearTimeout(timer);
        file.off('ready', onReady);
        file.off('error', onError);
        resolve(how);
      };
      const onReady = done('ready');
      const onError = done('error');
      const timer = setTimeout(done('timeout'), REOPEN_TIMEOUT_MS);
      timer.unref();
      file.once('ready', onReady);
      file.once('error', onError);
    });

  const closed = (): Promise<void> =>
    new Promise((resolve) => {
      if (file.destroyed) return resolve();
      const timer = setTimeout(resolve, REOPEN_TIMEOUT_MS);
      timer.unref();
      file.once('close', () => (clearTimeout(timer), resolve()));
    });

  return {
    stream: file,
    async reopen() {
      if (file.destroyed) return;
      // Closing (the worker stops): its last lines go to the file it has; the rotation waits until they are written.
      if (file._ending) return closed();
      // Still opening the first time: let that finish, or the 'ready' waited for would be that one.
      if (file._opening) await whenReady();
      if (file.destroyed || file._ending) return;
      // A reopen asked for during a write waits for that write; when the write fails (disk full),
      // sonic-boom forgets the reopen, so it is asked again (a failed open is not: it was reported).
      for (let attempt = 0; attempt < 3; attempt++) {
        const ready = whenReady();
        try {
          file.reopen();
        } catch (err) {
          once.report('reopen', `cannot reopen the log file ${path}: ${(err as Error).message}`);
          return;
        }
        if ((await ready) !== 'error' || !(file as { _reopening?: boolean })._reopening) return;
      }
    },
    close() {
      // Never opened (the open failed, e.g. hdb.log is a folder): nothing to write, no 'close' to wait for.
      if (file.fd === -1 && !file._opening) return Promise.resolve();
      const done = closed();
      try {
        if (!file.destroyed && !file._ending) file.end();
      } catch {
        // Already closed.
      }
      return done;
    },
  };
}
