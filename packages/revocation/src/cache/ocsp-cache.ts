import type { OcspAnswer } from '../ocsp/response.js';

type Cached = { answer: OcspAnswer; expiresAt: number } | { error: string; invalid: boolean; expiresAt: number };

/**
 * OCSP answers by CertID: good/revoked for `cacheTtl` (bounded by the response's nextUpdate),
 * failures and `unknown` for `errorCacheTtl`. Bounded: the oldest entries go first.
 */
export class OcspCache {
  readonly #map = new Map<string, Cached>();
  constructor(private readonly opts: { cacheTtlMs: number; errorCacheTtlMs: number; maxEntries?: number }) {}

  get(key: string, now: number): Cached | undefined {
    const v = this.#map.get(key);
    if (!v) return undefined;
    if (now >= v.expiresAt) {
      this.#map.delete(key);
      return undefined;
    }
    return v;
  }

  putAnswer(key: string, answer: OcspAnswer, now: number): void {
    const ttl = answer.status === 'unknown' ? this.opts.errorCacheTtlMs : this.opts.cacheTtlMs;
    const expiresAt = Math.min(now + ttl, answer.nextUpdate ? answer.nextUpdate.getTime() : Infinity);
    this.#set(key, { answer, expiresAt });
  }

  putError(key: string, error: string, invalid: boolean, now: number): void {
    this.#set(key, { error, invalid, expiresAt: now + this.opts.errorCacheTtlMs });
  }

  #set(key: string, v: Cached): void {
    this.#map.delete(key);
    this.#map.set(key, v);
    const max = this.opts.maxEntries ?? 10_000;
    while (this.#map.size > max) this.#map.delete(this.#map.keys().next().value!);
  }
}
