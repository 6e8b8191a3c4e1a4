import { HarperTlsError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a token lifetime: `500ms`, `30s`, `15m`, `12h`, `1d`, `2w`, or a bare number of
 * seconds (the convention of jose and Harper). Returns milliseconds.
 * @throws HarperTlsError `ERR_CONFIG_DURATION` for anything else, zero or negative.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return Math.round(value * 1000);
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(value);
    if (m) {
      const ms = Number(m[1]) * UNITS[m[2] ?? 's']!;
      if (ms > 0) return Math.round(ms);
    }
  }
  throw new HarperTlsError('ERR_CONFIG_DURATION', `${JSON.stringify(value)} is not a duration; use a positive number of seconds or a number with ms, s, m, h, d or w (e.g. "1d", "15m")`);
}
