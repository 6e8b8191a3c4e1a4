import type { Logger } from '../logger.js';
import type { FaultLog } from '../fault-log.js';
import { RevocationError } from '../errors.js';
import { parseCrlAsync, type ParsedCrl } from '../crl/parse.js';
import { createSingleFlight, fetchBytes, type FetchLike } from '../fetch/fetch-bytes.js';
import type { SharedRevocation } from './shared.js';

/**
 * Persistent cache behind the in-memory one (the server's lmdb). Values are big (a whole CRL), so
 * neither side copies them: `get` must return bytes the caller may keep (not a buffer the store
 * reuses: the parsed CRL keeps a view of them), and `put` must not modify `value`, which is the
 * very memory the in-memory CRL reads (the store may keep it referenced or write it as is).
 */
export interface RevocationStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
  /**
   * A store shared by several nodes (SPEC.md section 10) adds a cluster-wide lock: a CRL is then
   * downloaded by one node at a time per URL, and a node that finds a copy another node stored
   * within cacheTtl takes it instead of downloading. While the lock cannot be had (the engine
   * unreachable), the node downloads alone.
   */
  lock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

interface Entry {
  crl: ParsedCrl;
  fetchedAt: number;
  /** From here a lookup starts a background refresh and still answers from this copy. */
  refreshAt: number;
  /** From here (fetchedAt + cacheTtl, or nextUpdate if sooner) a lookup waits for a new copy. */
  expiresAt: number;
}

export interface CrlLookup {
  crl?: ParsedCrl;
  cache: 'hit' | 'miss' | 'stale';
  error?: RevocationError;
}

export interface CrlCacheOptions {
  timeoutMs: number;
  cacheTtlMs: number;
  gracePeriodMs: number;
  maxBytes: number;
  fetch?: FetchLike;
  store?: RevocationStore;
  now: () => Date;
  logger?: Logger;
  /** Where failed downloads are reported (rate-limited warn lines). */
  faults?: FaultLog;
  /** Other processes sharing `store`: one download per node, and each refresh reaches them all before it is used. */
  shared?: SharedRevocation;
}

const STORE_PREFIX = 'crl:';
/**
 * A stored CRL is one value: the fetch time (a big-endian float64, ms since the epoch) then the
 * DER. One value, so a crash leaves it complete or absent (lmdb writes a value atomically).
 */
const STORE_HEADER = 8;

/**
 * Downloaded CRLs by URL: one parsed copy each, one download at a time per URL, reused for
 * `cacheTtl` (bounded by nextUpdate), refreshed in the background after that, persisted so a
 * restart does not download again, and served stale until nextUpdate + gracePeriod when a
 * refresh fails.
 */
export class CrlCache {
  readonly #entries = new Map<string, Entry>();
  readonly #flight = createSingleFlight<Entry>();
  readonly #opts: CrlCacheOptions;
  /** Downloads started, for tests and metrics. */
  downloads = 0;

  constructor(opts: CrlCacheOptions) {
    this.#opts = opts;
  }

  #entry(crl: ParsedCrl, fetchedAt: number): Entry {
    const ttlEnd = fetchedAt + this.#opts.cacheTtlMs;
    const expiresAt = crl.nextUpdate ? Math.min(ttlEnd, crl.nextUpdate.getTime()) : ttlEnd;
    // Refresh during the last fifth of the lifetime so that steady traffic never waits.
    const refreshAt = fetchedAt + Math.max(0, expiresAt - fetchedAt) * 0.8;
    return { crl, fetchedAt, refreshAt, expiresAt };
  }

  #usable(e: Entry, now: number): boolean {
    const limit = e.crl.nextUpdate ? e.crl.nextUpdate.getTime() + this.#opts.gracePeriodMs : e.fetchedAt + this.#opts.cacheTtlMs + this.#opts.gracePeriodMs;
    return now <= limit;
  }

  async #fromStore(url: string): Promise<Entry | undefined> {
    if (!this.#opts.store) return undefined;
    try {
      const v = await this.#opts.store.get(STORE_PREFIX + url);
      if (!v || v.length <= STORE_HEADER) return undefined;
      const fetchedAt = new DataView(v.buffer, v.byteOffset, STORE_HEADER).getFloat64(0, false);
      // The parsed CRL keeps a view of `v` (no copy): the store must hand back a buffer of its own.
      const crl = await parseCrlAsync(v.subarray(STORE_HEADER));
      return this.#entry(crl, fetchedAt);
    } catch (err) {
      this.#opts.logger?.warn({ url, err: (err as Error).message }, 'cached CRL could not be read; downloading it again');
      return undefined;
    }
  }

  #download(url: string): Promise<Entry> {
    const store = this.#opts.store;
    // Several nodes (SPEC.md section 10): one download per URL for the whole cluster, under the
    // engine's lock (which serialises the workers of each node as well).
    if (store?.lock) return this.#clusterDownload(url, store);
    return this.#flight.run(url, () => {
      const shared = this.#opts.shared;
      if (!shared) return this.#fetch(url, false);
      const before = this.#entries.get(url);
      return shared.exclusive(`crl:${url}`, async () => {
        const now = this.#opts.now().getTime();
        // Another process downloaded it while this one waited: its publish already reloaded it here,
        // or (when this process had no copy) it is in the store.
        const current = this.#entries.get(url);
        if (current && current !== before && now < current.refreshAt) return current;
        if (!before) {
          const stored = await this.#fromStore(url);
          if (stored && now < stored.refreshAt) {
            this.#entries.set(url, stored);
            return stored;
          }
        }
        const entry = await this.#fetch(url, true);
        try {
          await shared.publish({ kind: 'crl', url });
        } finally {
          this.#entries.set(url, entry);
        }
        return entry;
      });
    });
  }

  /** One download per URL for the cluster (the engine's advisory lock); alone while the engine is unreachable. */
  #clusterDownload(url: string, store: RevocationStore): Promise<Entry> {
    return this.#flight.run(`shared:${url}`, async () => {
      try {
        return await store.lock!(STORE_PREFIX + url, async () => {
          const e = await this.#fromStore(url);
          if (e && this.#opts.now().getTime() < e.refreshAt) {
            this.#entries.set(url, e);
            return e;
          }
          const fetched = await this.#fetch(url, true);
          this.#entries.set(url, fetched);
          return fetched;
        });
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_STORE_UNAVAILABLE') throw err;
      }
      this.#opts.logger?.warn({ url }, 'the cluster store is unreachable: downloading the CRL on this node alone');
      return this.#fetch(url, false);
    });
  }

  /** Another process refreshed `url` in the store: take its copy, when this cache uses that URL. */
  async reload(url: string): Promise<void> {
    if (!this.#entries.has(url)) return;
    const e = await this.#fromStore(url);
    if (e) this.#entries.set(url, e);
  }

  /** Downloads, parses and stores (awaited when `awaitStore`, so other processes can read it next). */
  async #fetch(url: string, awaitStore: boolean): Promise<Entry> {
    {
      this.downloads++;
      const t0 = performance.now();
      // `stored` = room for the store header + the DER, in one buffer: the parsed CRL keeps a view
      // of the DER, and the store gets the whole buffer, so saving it costs no copy of the CRL
      // (lmdb keeps the last value written referenced until the next write: a copy would stay).
      let stored: Uint8Array;
      let der: Uint8Array;
      let crl: ParsedCrl;
      try {
        stored = await fetchBytes(url, { timeoutMs: this.#opts.timeoutMs, maxBytes: this.#opts.maxBytes, fetch: this.#opts.fetch, prefixBytes: STORE_HEADER });
        der = stored.subarray(STORE_HEADER);
        crl = await parseCrlAsync(der);
      } catch (err) {
        // Reported here, inside the single flight: once per download, not once per waiting check.
        this.#opts.faults?.report({ method: 'crl', url, code: (err as { code?: string }).code ?? 'ERR_REVOCATION_FETCH', message: (err as Error).message });
        throw err;
      }
      const fetchedAt = this.#opts.now().getTime();
      const entry = this.#entry(crl, fetchedAt);
      // Shared: taken into use here only after every other process has it (see #download).
      if (!awaitStore) this.#entries.set(url, entry);
      this.#opts.logger?.debug?.({ url, entries: crl.size, bytes: der.length, ms: Math.round(performance.now() - t0) }, 'CRL downloaded');
      if (this.#opts.store) {
        new DataView(stored.buffer, stored.byteOffset, STORE_HEADER).setFloat64(0, fetchedAt, false);
        const put = this.#opts.store.put(STORE_PREFIX + url, stored).catch((err) => this.#opts.logger?.warn({ url, err: (err as Error).message }, 'CRL could not be saved to the cache store'));
        if (awaitStore) await put;
      }
      return entry;
    }
  }

  /** The CRL at `url`, from memory, the store, or the network (unless `noFetch`). */
  async get(url: string, opts: { noFetch?: boolean } = {}): Promise<CrlLookup> {
    const now = this.#opts.now().getTime();
    let e = this.#entries.get(url);
    if (!e) {
      e = await this.#fromStore(url);
      if (e) this.#entries.set(url, e);
    }
    if (e && now < e.refreshAt) return { crl: e.crl, cache: 'hit' };
    if (e && now < e.expiresAt) {
      // Due for a refresh but still within cacheTtl: serve it, refresh behind the scenes.
      // A failure is reported by #download (rate-limited); the cached CRL is still current.
      if (!opts.noFetch) this.#download(url).catch(() => undefined);
      return { crl: e.crl, cache: 'hit' };
    }
    if (opts.noFetch) return e ? { crl: e.crl, cache: 'stale' } : { cache: 'miss', error: new RevocationError('ERR_REVOCATION_FETCH', `${url} is not cached and fetching is off`) };
    try {
      const fresh = await this.#download(url);
      return { crl: fresh.crl, cache: 'miss' };
    } catch (err) {
      const error = err instanceof RevocationError ? err : new RevocationError('ERR_REVOCATION_FETCH', (err as Error).message);
      if (e && this.#usable(e, now)) return { crl: e.crl, cache: 'stale', error };
      return { cache: 'miss', error };
    }
  }
}
