import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pino, type DestinationStream } from 'pino';
import { createStream } from 'rotating-file-stream';
import type { LoggingConfig } from '@harper-tls/config';
import { openSharedLogFile } from './logging/shared-file.js';

/** The log file's name in `logging.root`, as Harper names it. */
export const LOG_FILE = 'hdb.log';

export interface LogDestination {
  stream: DestinationStream;
  /** Flushes and closes the file (rotation timers included). */
  close(): Promise<void>;
  /** A shared file (`shared: true`): opens hdb.log again after the primary renamed it; otherwise nothing. */
  reopen(): Promise<void>;
}

export interface LogDestinationOptions {
  /**
   * One process of a multi-worker server (SPEC.md section 8): hdb.log is opened in append mode and
   * not rotated by this process; the primary rotates (see workers/log-rotation.ts) and calls `reopen()`.
   */
  shared?: boolean;
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Rotated files: `<rotation.path>/hdb-YYYYMMDD-HHMMSS-N.log` (`.gz` added when compressed).
 * rotating-file-stream joins the name to `logging.root`, so the name is relative to it.
 */
export function rotatedName(logging: LoggingConfig) {
  const dir = relative(logging.root, logging.rotation.path);
  return (time: number | Date | null, index?: number): string => {
    if (!time) return LOG_FILE;
    const t = typeof time === 'number' ? new Date(time) : time;
    const stamp = `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}-${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}${pad(t.getUTCSeconds())}`;
    // With a name function, rotating-file-stream compresses but leaves the extension to the name.
    return join(dir, `hdb-${stamp}-${index ?? 1}.log${logging.rotation.compress ? '.gz' : ''}`);
  };
}

/**
 * Where the log lines go (SPEC.md section 11): `<logging.root>/hdb.log` when `logging.file`
 * (rotated by size and/or interval with rotating-file-stream, gzip when `compress`), and stdout
 * when `logging.stdStreams`. Neither: nowhere (as Harper).
 */
export function logDestination(logging: LoggingConfig, opts: LogDestinationOptions = {}): LogDestination {
  const streams: Array<{ stream: DestinationStream; close(): Promise<void> }> = [];
  let reopen = async () => {};
  if (logging.file && opts.shared) {
    mkdirSync(logging.root, { recursive: true, mode: 0o700 });
    const shared = openSharedLogFile(logging.root, LOG_FILE);
    reopen = shared.reopen;
    streams.push(shared);
  } else if (logging.file) {
    mkdirSync(logging.root, { recursive: true, mode: 0o700 });
    const { rotation } = logging;
    if (rotation.enabled && (rotation.maxSizeBytes !== null || rotation.interval !== null)) {
      mkdirSync(rotation.path, { recursive: true, mode: 0o700 });
      const rfs = createStream(rotatedName(logging), {
        path: logging.root,
        ...(rotation.maxSizeBytes !== null ? { size: `${rotation.maxSizeBytes}B` } : {}),
        ...(rotation.interval !== null ? { interval: rotation.interval } : {}),
        ...(rotation.compress ? { compress: 'gzip' as const } : {}),
        mode: 0o600,
      });
      // A rotation problem (disk full, folder removed) must not take the server down: it is the log, not the service.
      rfs.on('error', () => {});
      rfs.on('warning', () => {});
      streams.push({ stream: rfs, close: () => new Promise((resolve) => rfs.end(() => resolve())) });
    } else {
      // Not rotated: the same append-mode file as a worker's, with its 'error' listener (EACCES, ENOSPC,
      // hdb.log a folder: said once on stderr, lines kept and retried) instead of an unhandled 'error' that ends the process.
      streams.push(openSharedLogFile(logging.root, LOG_FILE));
    }
  }
  if (logging.stdStreams) {
    const out = pino.destination({ fd: 1, sync: false });
    streams.push({ stream: out, close: async () => out.flushSync?.() });
  }
  const closeAll = async () => {
    await Promise.all(streams.map((s) => s.close()));
  };
  if (streams.length === 1) return { stream: streams[0]!.stream, close: closeAll, reopen };
  if (streams.length === 0) return { stream: { write: () => undefined } as DestinationStream, close: closeAll, reopen };
  return { stream: pino.multistream(streams.map((s) => ({ stream: s.stream, level: 'trace' as const }))), close: closeAll, reopen };
}
