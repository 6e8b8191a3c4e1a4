import type { CorsConfig, ListenerLimits, ListenerNetwork } from './types.js';
import type { ResolveContext } from './context.js';
import type { PathPart } from './sources.js';
import { MAX_TIMER_MS, readBoolean, readMs, readPort } from './values.js';
import { readMtls } from './mtls.js';

/**
 * `cors` / `corsAccessList` (SPEC.md section 11, Harper's semantics): any origin when the list
 * holds `*`, holds only `null`s (Harper's default file: `[null]`) or is empty.
 */
export function readCors(ctx: ResolveContext, path: PathPart[]): CorsConfig | false {
  const enabled = readBoolean(ctx, [...path, 'cors'], false);
  const listPath = [...path, 'corsAccessList'];
  const v = ctx.get(listPath);
  let list: unknown[] = [];
  if (v !== undefined && v !== null) {
    if (Array.isArray(v) && v.every((o) => o === null || (typeof o === 'string' && o !== ''))) list = v;
    else ctx.issue(listPath, v, 'expected a list of origins such as ["https://app.example.com"] ("*" allows any origin)');
  }
  if (!enabled) return false;
  const origins = list.filter((o): o is string => typeof o === 'string' && o !== '*');
  return { anyOrigin: list.includes('*') || list.every((o) => o === null), origins };
}

/**
 * A positive whole number from `min` to 2^31-1, or undefined (Node's default) when absent or null.
 * 2^31-1 is Node's longest timer and within what http (`maxHeaderSize`) and http2 (`maxHeaderListSize`) accept.
 */
function readOptional(ctx: ResolveContext, path: PathPart[], min: number, unit: string): number | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= MAX_TIMER_MS) return v;
  ctx.issue(path, v, `expected a whole number of ${unit} ${min}-${MAX_TIMER_MS}, or null for Node's default`);
  return undefined;
}

/** `keepAliveTimeout`, `headersTimeout`, `timeout` (default 120000 ms, as Harper), `maxHeaderSize`. */
export function readLimits(ctx: ResolveContext, path: PathPart[]): ListenerLimits {
  const timeoutPath = [...path, 'timeout'];
  return {
    keepAliveTimeout: readOptional(ctx, [...path, 'keepAliveTimeout'], 1, 'milliseconds'),
    headersTimeout: readOptional(ctx, [...path, 'headersTimeout'], 1, 'milliseconds'),
    timeout: ctx.get(timeoutPath) === null ? 120_000 : readMs(ctx, timeoutPath, 120_000, 1),
    maxHeaderSize: readOptional(ctx, [...path, 'maxHeaderSize'], 1024, 'bytes'),
  };
}

export function readNetwork(ctx: ResolveContext, path: string[], defPort: number | null): ListenerNetwork {
  return {
    port: readPort(ctx, [...path, 'port'], defPort),
    securePort: readPort(ctx, [...path, 'securePort'], null),
    mtls: readMtls(ctx, [...path, 'mtls']),
    cors: readCors(ctx, path),
    limits: readLimits(ctx, path),
  };
}
