import { join } from 'node:path';
import type { LoggingConfig, LogLevel, LogRotationConfig } from './types.js';
import type { ResolveContext } from './context.js';
import type { PathPart } from './sources.js';
import { readBoolean, readDirectory } from './values.js';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
/** Harper's levels above `error`: harper-tls logs them at `error`. */
const HARPER_ONLY_LEVELS: Record<string, LogLevel> = { fatal: 'error', notify: 'error' };
const SIZE_UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
/** Harper's rotation units: D days, H hours, M months, m minutes (lower-case d and h too). */
const INTERVAL_MS: Record<string, number> = { D: 86_400_000, d: 86_400_000, H: 3_600_000, h: 3_600_000, M: 30 * 86_400_000, m: 60_000 };
/** The same units as rotating-file-stream spells them. */
const INTERVAL_RFS: Record<string, string> = { D: 'd', d: 'd', H: 'h', h: 'h', M: 'M', m: 'm' };

function readLevel(ctx: ResolveContext, path: PathPart[]): LogLevel {
  const v = ctx.get(path);
  if (v === undefined || v === null) return 'info';
  if (typeof v === 'string' && (LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  if (typeof v === 'string' && v in HARPER_ONLY_LEVELS) return HARPER_ONLY_LEVELS[v]!;
  ctx.issue(path, v, `expected one of ${[...LEVELS, 'fatal', 'notify'].map((a) => `"${a}"`).join(', ')}`);
  return 'info';
}

function parseSize(v: unknown): number | undefined {
  const m = typeof v === 'string' ? /^(\d+)([KMG])$/.exec(v.trim()) : null;
  return m && Number(m[1]) > 0 ? Number(m[1]) * SIZE_UNITS[m[2]!]! : undefined;
}

/** `maxSize`: absent → the default; null → not by size. */
function readSize(ctx: ResolveContext, path: PathPart[], def: string): number | null {
  const v = ctx.get(path);
  if (v === null) return null;
  if (v === undefined) return parseSize(def)!;
  const bytes = parseSize(v);
  if (bytes !== undefined) return bytes;
  ctx.issue(path, v, 'expected a size: a whole number followed by K, M or G, e.g. "64M"');
  return parseSize(def)!;
}

function readInterval(ctx: ResolveContext, path: PathPart[]): { ms: number; text: string } | null {
  const v = ctx.get(path);
  if (v === undefined || v === null) return null;
  const m = typeof v === 'string' ? /^(\d+)([DdHhMm])$/.exec(v.trim()) : null;
  if (m && Number(m[1]) > 0) return { ms: Number(m[1]) * INTERVAL_MS[m[2]!]!, text: `${Number(m[1])}${INTERVAL_RFS[m[2]!]}` };
  ctx.issue(path, v, 'expected an interval: a whole number followed by D (days), H (hours), M (months) or m (minutes), e.g. "1D"');
  return null;
}

/** `logging.*` (SPEC.md section 11): level, file and/or stdout, the folder, rotation and audit lines. */
export function readLogging(ctx: ResolveContext): LoggingConfig {
  const root = readDirectory(ctx, ['logging', 'root'], join(ctx.rootPath, 'log'));
  const interval = readInterval(ctx, ['logging', 'rotation', 'interval']);
  const rotation: LogRotationConfig = {
    enabled: readBoolean(ctx, ['logging', 'rotation', 'enabled'], true),
    compress: readBoolean(ctx, ['logging', 'rotation', 'compress'], false),
    intervalMs: interval?.ms ?? null,
    interval: interval?.text ?? null,
    maxSizeBytes: readSize(ctx, ['logging', 'rotation', 'maxSize'], '64M'),
    path: readDirectory(ctx, ['logging', 'rotation', 'path'], root),
  };
  return {
    level: readLevel(ctx, ['logging', 'level']),
    file: readBoolean(ctx, ['logging', 'file'], true),
    root,
    stdStreams: readBoolean(ctx, ['logging', 'stdStreams'], false),
    rotation,
    auditAuthEvents: {
      logFailed: readBoolean(ctx, ['logging', 'auditAuthEvents', 'logFailed'], false),
      logSuccessful: readBoolean(ctx, ['logging', 'auditAuthEvents', 'logSuccessful'], false),
    },
  };
}
