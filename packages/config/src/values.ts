import type { ResolveContext } from './context.js';
import type { PathPart } from './sources.js';
import { isAbsolute, join, resolve } from 'node:path';
import { parseDuration } from './duration.js';
import { expandHome } from './root.js';

/** Value readers: each returns the default (and records an issue) when the value is invalid. */

export function readPort(ctx: ResolveContext, path: PathPart[], def: number | null): number | null {
  const v = ctx.get(path);
  if (v === undefined) return def;
  if (v === null) return null;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
  ctx.issue(path, v, typeof v === 'number' && Number.isInteger(v) ? 'out of range; expected an integer 1-65535, or null to disable' : 'expected a port number (an integer 1-65535), or null to disable');
  return def;
}

export function readBoolean(ctx: ResolveContext, path: PathPart[], def: boolean): boolean {
  const v = ctx.get(path);
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  ctx.issue(path, v, 'expected true or false');
  return def;
}

export function readEnum<T extends string>(ctx: ResolveContext, path: PathPart[], allowed: readonly T[], def: T): T {
  const v = ctx.get(path);
  if (v === undefined) return def;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  ctx.issue(path, v, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  return def;
}

/** The largest delay Node's timers take (2^31-1 ms, about 24.8 days); a larger one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * A number of milliseconds with a minimum, at most `MAX_TIMER_MS` (a value that goes into a
 * timer); `max: 'span'` for one that is only compared with dates (a grace period, a retention),
 * at most Number.MAX_SAFE_INTEGER.
 */
export function readMs(ctx: ResolveContext, path: PathPart[], def: number, min: number, max: 'timer' | 'span' = 'timer'): number {
  const v = ctx.get(path);
  if (v === undefined) return def;
  const limit = max === 'timer' ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER;
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= limit) return v;
  const tooLarge = max === 'timer' ? `too large; expected an integer number of milliseconds ${min}-${MAX_TIMER_MS} (about 24.8 days, the longest timer Node has)` : `too large; expected an integer number of milliseconds ${min}-${Number.MAX_SAFE_INTEGER}`;
  ctx.issue(path, v, typeof v === 'number' ? (Number.isInteger(v) && v > limit ? tooLarge : `too small or not whole; expected an integer number of milliseconds >= ${min}`) : `expected a number of milliseconds (an integer >= ${min})`);
  return def;
}

export function readDuration(ctx: ResolveContext, path: PathPart[], def: string): { text: string; ms: number } {
  const v = ctx.get(path);
  if (v === undefined) return { text: def, ms: parseDuration(def) };
  if (typeof v === 'string' || typeof v === 'number') {
    try {
      return { text: String(v), ms: parseDuration(v) };
    } catch (err) {
      ctx.issue(path, v, (err as Error).message.replace(/^.*? is not a duration; /, 'not a duration; '));
      return { text: def, ms: parseDuration(def) };
    }
  }
  ctx.issue(path, v, 'expected a duration such as "1d", "12h", "15m" or a number of seconds');
  return { text: def, ms: parseDuration(def) };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A folder or file path: `~` and `<ROOTPATH>` expanded, relative paths taken from ROOTPATH (as Harper). Absent or null: `def`. */
export function readDirectory(ctx: ResolveContext, path: PathPart[], def: string): string {
  const v = ctx.get(path);
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string' || v.trim() === '' || v.includes('\0')) {
    ctx.issue(path, v, 'expected a path (absolute, ~/..., or relative to ROOTPATH)');
    return def;
  }
  const p = expandHome(v.replaceAll('<ROOTPATH>', ctx.rootPath), ctx.homedir);
  return isAbsolute(p) ? resolve(p) : join(ctx.rootPath, p);
}

/** A non-empty string, or `def` when absent or null. */
export function readString(ctx: ResolveContext, path: PathPart[], def: string): string {
  const v = ctx.get(path);
  if (v === undefined || v === null) return def;
  if (typeof v === 'string' && v.trim() !== '') return v;
  ctx.issue(path, v, 'expected a non-empty string');
  return def;
}
