import type { Logger } from './logger.js';
import { redactUrl } from './fetch/redact-url.js';

/** A failed download or OCSP request. */
export interface Fault {
  method: 'crl' | 'ocsp';
  /** The distribution point or responder URL (not a GET URL carrying the request). */
  url: string;
  code: string;
  message: string;
}

export interface FaultLogOptions {
  logger?: Logger;
  now: () => Date;
  /** One warn line per URL and error code per interval, ms. */
  intervalMs: number;
  /** Most (URL, code) pairs remembered; the oldest go first. Default 1000. */
  maxKeys?: number;
}

/**
 * Logs download and OCSP failures at warn, at most once per (URL, error code) per interval: the
 * first failure is logged at once, repeats within the interval are counted, and the first
 * failure after it is logged with `suppressed: <repeats>`. Without timers: a count is reported
 * when that fault happens again. Logs URLs (without credentials), codes and messages, never key
 * material or request bodies.
 */
export class FaultLog {
  readonly #windows = new Map<string, { startedAt: number; suppressed: number }>();
  readonly #o: FaultLogOptions;

  constructor(o: FaultLogOptions) {
    this.#o = o;
  }

  report(f: Fault): void {
    const logger = this.#o.logger;
    if (!logger) return;
    const key = `${f.method} ${f.url} ${f.code}`;
    const t = this.#o.now().getTime();
    const w = this.#windows.get(key);
    if (w && t - w.startedAt < this.#o.intervalMs) {
      w.suppressed++;
      return;
    }
    this.#windows.delete(key);
    this.#windows.set(key, { startedAt: t, suppressed: 0 });
    const max = this.#o.maxKeys ?? 1000;
    while (this.#windows.size > max) this.#windows.delete(this.#windows.keys().next().value!);
    const entry = { method: f.method, url: redactUrl(f.url), code: f.code, error: redactUrl(f.message), ...(w ? { suppressed: w.suppressed } : {}) };
    logger.warn(entry, f.method === 'crl' ? 'CRL download failed' : 'OCSP request failed');
  }
}
