import { availableParallelism } from 'node:os';
import type { ResolveContext } from './context.js';
import type { PathPart } from './sources.js';
import { isPlainObject } from './values.js';

/** The most workers `threads.count` may ask for (SPEC.md section 8). */
export const MAX_THREADS = 256;

/** Harper's default: one less than the CPUs, at least 1. */
export function defaultThreadCount(cpus: number = availableParallelism()): number {
  return Math.max(1, cpus - 1);
}

/**
 * `threads.count` (SPEC.md section 8): how many workers serve every listener. Harper also
 * accepts `threads: N` as the count; that form is read the same. Default `defaultThreadCount()`.
 */
export function readThreads(ctx: ResolveContext, cpus?: number): { count: number } {
  const whole = ctx.get(['threads']);
  const path: PathPart[] = isPlainObject(whole) || whole === undefined || whole === null ? ['threads', 'count'] : ['threads'];
  const v = ctx.get(path);
  const def = defaultThreadCount(cpus);
  if (v === undefined || v === null) return { count: def };
  // Harper's schema converts numeric strings (Joi), so `count: "4"` is 4 there and here.
  if (typeof v === 'string' && /^\d{1,3}$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= MAX_THREADS) return { count: Number(v) };
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_THREADS) return { count: v };
  ctx.issue(path, v, `expected a whole number of workers from 1 to ${MAX_THREADS} (default: one less than the CPUs, here ${def})`);
  return { count: def };
}
