import type { Logger } from '../logger.js';
import type { FaultLog } from '../fault-log.js';
import { RevocationError } from '../errors.js';
import { indexOf, parseCrlAsync, type ParsedCrl } from '../crl/parse.js';
import { encodeStoredCrl, LEGACY_HEADER, parseStoredCrl, writeLegacyHeader } from '../crl/stored.js';
import { discard } from './discard.js';
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
   * Optional: the stored value without a private copy, for big values that several processes on
   * the node read (a CRL and its index, crl/stored.ts). `bytes` stays valid (unchanged, not
   * reused) until `release()`, which the caller calls exactly once when it no longer reads them;
   * `mapped` says they are the store's shared memory (false: a private copy, release a no-op).
   * A store with `getMapped` is written CRLs with their index (crl/stored.ts), and must not read
   * a value given to `put` once the put has resolved (the cache then frees that memory at once);
   * one without is written the legacy layout (fetch time + DER) and read with `get`.
   */
  getMapped?(key: string): Promise<MappedValue | undefined>;
  /**
   * A store shared by several nodes (SPEC.md section 10) adds a cluster-wide lock: a CRL is then
   * downloaded by one node at a time per URL, and a node that finds a copy another node stored
   * within cacheTtl takes it instead of downloading. While the lock cannot be had (the engine
   * unreachable), the node downloads alone.
   */
  lock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** A value from `RevocationStore.getMapped`. */
export interface MappedValue {
  bytes: Uint8Array;
  mapped: boolean;
  release(): void;
}

interface Entry {
  crl: ParsedCrl;
  /** The store's memory the CRL reads (getMapped), given back once the entry is replaced and no lookup holds it. */
  release?: () => void;
  /** Lookups between `get` and their `done()`. */
  leases: number;
  /** Replaced (or the cache closed): released when `leases` reaches 0. */
  retired: boolean;
  mapped: boolean;
  fetchedAt: number;
  /** From here a lookup starts a background refresh and still answers from this copy. */
  refreshAt: number;
  /** From here (fetchedAt + cacheTtl, or nextUpdate if sooner) a lookup waits for a new copy. */
  expiresAt: number;
  /**
   * Downloaded already past its nextUpdate (the CA is late, or the copy comes from a stale
   * mirror): no new download before this (fetchedAt + the retry back-off); lookups meanwhile get
   * this copy as `stale`. 0 otherwise.
   */
  retryAt: number;
}

export interface CrlLookup {
  crl?: ParsedCrl;
  cache: 'hit' | 'miss' | 'stale';
  error?: RevocationError;
  /**
   * Called once the caller no longer reads `crl` (after its synchronous evaluation): a CRL read
   * from the store's memory map stays valid until then even when a refresh replaces it meanwhile.
   */
  done(): void;
}

const noop = () => undefined;

/**
 * Back-off after a failed CRL download, or after one whose CRL is already past its nextUpdate,
 * ms (at most `cacheTtl`): until it ends, lookups of that URL start no download and answer at
 * once with the usable stale copy (until nextUpdate + gracePeriod) or the last download error.
 */
export const CRL_RETRY_BACKOFF_MS = 60_000;

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

/**
 * Key prefix of a stored CRL. A stored CRL is one value (crl/stored.ts), so a crash leaves it
 * complete or absent (lmdb writes a value atomically): for a store with `getMapped`, a header,
 * the DER and the serial index; for the others (the cluster engine) the legacy layout, the fetch
 * time then the DER.
 */
const STORE_PREFIX = 'crl:';

/**
 * Downloaded CRLs by URL: one parsed copy each, one download at a time per URL, reused for
 * `cacheTtl` (bounded by nextUpdate), refreshed in the background after that, persisted so a
 * restart does not download again, and served stale until nextUpdate + gracePeriod when a
 * refresh fails. After a failed download, or one already past its nextUpdate, the URL is not
 * downloaded again for CRL_RETRY_BACKOFF_MS (at most cacheTtl).
 */
export class CrlCache {
  readonly #entries = new Map<string, Entry>();
  readonly #flight = createSingleFlight<Entry>();
  readonly #opts: CrlCacheOptions;
  /** Downloads started, for tests and metrics. */
  downloads = 0;
  /** The last failed download of each URL, until its back-off ends. Bounded: the oldest go first. */
  readonly #failed = new Map<string, { until: number; error: RevocationError }>();

  constructor(opts: CrlCacheOptions) {
    this.#opts = opts;
  }

  #closed = false;
  /** Entries read from the store's map and not given back yet (for close). */
  #live = 0;
  #drained: Array<() => void> = [];

  #entry(crl: ParsedCrl, fetchedAt: number, mapped?: MappedValue): Entry {
    const ttlEnd = fetchedAt + this.#opts.cacheTtlMs;
    const expiresAt = crl.nextUpdate ? Math.min(ttlEnd, crl.nextUpdate.getTime()) : ttlEnd;
    // Refresh during the last fifth of the lifetime so that steady traffic never waits.
    const refreshAt = fetchedAt + Math.max(0, expiresAt - fetchedAt) * 0.8;
    const retryAt = expiresAt <= fetchedAt ? fetchedAt + this.#backoffMs : 0;
    const e: Entry = { crl, fetchedAt, refreshAt, expiresAt, retryAt, leases: 0, retired: false, mapped: mapped?.mapped === true };
    if (mapped) {
      this.#live++;
      let given = false;
      e.release = () => {
        if (given) return;
        given = true;
        mapped.release();
        if (--this.#live === 0) for (const w of this.#drained.splice(0)) w();
      };
    }
    return e;
  }

  /** Makes `e` the entry of `url`; the one it replaces is released once no lookup holds it. */
  #replace(url: string, e: Entry): void {
    const old = this.#entries.get(url);
    if (this.#closed) return this.#retire(e);
    this.#entries.set(url, e);
    if (old && old !== e) this.#retire(old);
  }

  #retire(e: Entry): void {
    e.retired = true;
    if (e.leases === 0) e.release?.();
  }

  /** The lookup answer for `e`, holding it until `done()`. */
  #leased(e: Entry, cache: CrlLookup['cache'], error?: RevocationError): CrlLookup {
    e.leases++;
    let once = false;
    const done = () => {
      if (once) return;
      once = true;
      if (--e.leases === 0 && e.retired) e.release?.();
    };
    return error ? { crl: e.crl, cache, error, done } : { crl: e.crl, cache, done };
  }

  /** Entries (of every URL) read from the store's memory map and still held: for tests. */
  get mappedEntries(): number {
    return this.#live;
  }

  /** Gives every stored value back (at once, or when the last lookup holding one is done); resolves when all are. */
  close(): Promise<void> {
    this.#closed = true;
    for (const e of this.#entries.values()) this.#retire(e);
    this.#entries.clear();
    return this.#live === 0 ? Promise.resolve() : new Promise((r) => this.#drained.push(r));
  }

  get #backoffMs(): number {
    return Math.min(this.#opts.cacheTtlMs, CRL_RETRY_BACKOFF_MS);
  }

  /** A copy that needs no new download now: before its refresh time, or within its retry back-off. */
  #current(e: Entry, now: number): boolean {
    return now < e.refreshAt || now < e.retryAt;
  }

  /** #download, remembering a failure for the back-off (and forgetting it on success). */
  async #attempt(url: string): Promise<Entry> {
    try {
      const e = await this.#download(url);
      this.#failed.delete(url);
      return e;
    } catch (err) {
      const error = err instanceof RevocationError ? err : new RevocationError('ERR_REVOCATION_FETCH', (err as Error).message);
      this.#failed.delete(url);
      this.#failed.set(url, { until: this.#opts.now().getTime() + this.#backoffMs, error });
      while (this.#failed.size > 10_000) this.#failed.delete(this.#failed.keys().next().value!);
      throw error;
    }
  }

  #usable(e: Entry, now: number): boolean {
    const limit = e.crl.nextUpdate ? e.crl.nextUpdate.getTime() + this.#opts.gracePeriodMs : e.fetchedAt + this.#opts.cacheTtlMs + this.#opts.gracePeriodMs;
    return now <= limit;
  }

  async #fromStore(url: string): Promise<Entry | undefined> {
    const store = this.#opts.store;
    if (!store || this.#closed) return undefined;
    let m: MappedValue | undefined;
    try {
      const t0 = performance.now();
      if (store.getMapped) m = await store.getMapped(STORE_PREFIX + url);
      // The parsed CRL keeps a view of the value (no copy): `get` hands back a buffer of its own.
      const v = store.getMapped ? m?.bytes : await store.get(STORE_PREFIX + url);
      if (!v || v.length <= LEGACY_HEADER) {
        m?.release();
        return undefined;
      }
      const stored = await parseStoredCrl(v);
      if (stored.why) this.#opts.logger?.warn({ url, why: stored.why }, 'the stored CRL index does not fit its CRL: rebuilt from the CRL');
      this.#opts.logger?.debug?.({ url, entries: stored.crl.size, mapped: m?.mapped === true, index: stored.index, ms: Math.round(performance.now() - t0) }, 'CRL read from the store');
      return this.#entry(stored.crl, stored.fetchedAt, m);
    } catch (err) {
      m?.release();
      this.#opts.logger?.warn({ url, err: (err as Error).message }, 'cached CRL could not be read; downloading it again');
      return undefined;
    }
  }

  /** The entry of `url` from the store, unless one is already there (then the stored copy is given back). */
  async #loadStored(url: string): Promise<Entry | undefined> {
    const s = await this.#fromStore(url);
    const cur = this.#entries.get(url);
    if (!s) return cur;
    if (cur) {
      this.#retire(s);
      return cur;
    }
    this.#replace(url, s);
    return this.#entries.get(url);
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
        if (current && current !== before && this.#current(current, now)) return current;
        if (!before) {
          const stored = await this.#fromStore(url);
          if (stored && this.#current(stored, now)) {
            this.#replace(url, stored);
            return stored;
          }
          if (stored) this.#retire(stored);
        }
        const entry = await this.#fetch(url, true);
        try {
          await shared.publish({ kind: 'crl', url });
        } finally {
          this.#replace(url, entry);
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
          if (e && this.#current(e, this.#opts.now().getTime())) {
            this.#replace(url, e);
            return e;
          }
          if (e) this.#retire(e);
          const fetched = await this.#fetch(url, true);
          this.#replace(url, fetched);
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
    if (e) this.#replace(url, e);
  }

  /**
   * Downloads, parses and stores (awaited when `awaitStore`, so other processes can read it next).
   * With a store that maps values, the CRL is then read back from the store's map and that copy
   * replaces the downloaded one, so no process keeps a private copy of a big CRL.
   */
  async #fetch(url: string, awaitStore: boolean): Promise<Entry> {
    this.downloads++;
    const t0 = performance.now();
    const store = this.#opts.store;
    const indexed = store?.getMapped !== undefined;
    // Legacy layout: `stored` = room for the store header + the DER, in one buffer: the parsed
    // CRL keeps a view of the DER, and the store gets the whole buffer, so saving it costs no copy.
    let stored: Uint8Array;
    let der: Uint8Array;
    let crl: ParsedCrl;
    try {
      stored = await fetchBytes(url, { timeoutMs: this.#opts.timeoutMs, maxBytes: this.#opts.maxBytes, fetch: this.#opts.fetch, prefixBytes: indexed ? 0 : LEGACY_HEADER });
      der = indexed ? stored : stored.subarray(LEGACY_HEADER);
      crl = await parseCrlAsync(der);
    } catch (err) {
      // Reported here, inside the single flight: once per download, not once per waiting check.
      this.#opts.faults?.report({ method: 'crl', url, code: (err as { code?: string }).code ?? 'ERR_REVOCATION_FETCH', message: (err as Error).message });
      throw err;
    }
    const fetchedAt = this.#opts.now().getTime();
    const entry = this.#entry(crl, fetchedAt);
    // Shared: taken into use here only after every other process has it (see #download).
    if (!awaitStore) this.#replace(url, entry);
    this.#opts.logger?.debug?.({ url, entries: crl.size, bytes: der.length, ms: Math.round(performance.now() - t0) }, 'CRL downloaded');
    if (!store) return entry;
    const warn = (err: unknown) => void this.#opts.logger?.warn({ url, err: (err as Error).message }, 'CRL could not be saved to the cache store');
    if (!indexed) {
      const put = store.put(STORE_PREFIX + url, writeLegacyHeader(stored, fetchedAt)).catch(warn);
      if (awaitStore) await put;
      return entry;
    }
    const value = encodeStoredCrl(fetchedAt, crl);
    const saved = store.put(STORE_PREFIX + url, value).then(
      () => (discard([value.buffer]), true),
      (err) => (warn(err), false),
    );
    const fromMap = saved.then(async (ok) => {
      const m = ok ? await this.#fromStore(url) : undefined;
      // Only this very download, mapped (not a private copy, not what another process or a
      // read-only store (the doctor's) has there instead).
      if (m && (!m.mapped || m.fetchedAt !== fetchedAt || m.crl.der.length !== der.length)) return void this.#retire(m);
      return m;
    });
    // Once the mapped copy replaces it and no lookup holds it, the downloaded copy (its DER and
    // index) is freed at once, not at some later GC: no process keeps a private copy.
    const idx = indexOf(crl);
    const freeDownload = () => discard([der.buffer, idx?.table.buffer, idx?.offsets?.buffer, idx?.issuerIndex?.buffer]);
    if (awaitStore) {
      const m = await fromMap;
      if (!m) return entry;
      freeDownload(); // never handed out
      return m;
    }
    void fromMap.then((m) => {
      if (!m) return;
      if (this.#entries.get(url) !== entry) return void this.#retire(m);
      entry.release = freeDownload;
      this.#replace(url, m);
    });
    return entry;
  }

  /** The CRL at `url`, from memory, the store, or the network (unless `noFetch`); call `done()` on the answer once it is used. */
  async get(url: string, opts: { noFetch?: boolean } = {}): Promise<CrlLookup> {
    if (this.#closed) return { cache: 'miss', error: new RevocationError('ERR_REVOCATION_FETCH', 'the CRL cache is closed'), done: noop };
    const now = this.#opts.now().getTime();
    const e = this.#entries.get(url) ?? (await this.#loadStored(url));
    if (e && now < e.refreshAt) return this.#leased(e, 'hit');
    let failed = this.#failed.get(url);
    if (failed && now >= failed.until) {
      this.#failed.delete(url);
      failed = undefined;
    }
    if (e && now < e.expiresAt) {
      // Due for a refresh but still within cacheTtl: serve it, refresh behind the scenes.
      // A failure is reported by #download (rate-limited); the cached CRL is still current.
      if (!opts.noFetch && !failed) this.#attempt(url).catch(() => undefined);
      return this.#leased(e, 'hit');
    }
    if (opts.noFetch) return e ? this.#leased(e, 'stale') : { cache: 'miss', error: new RevocationError('ERR_REVOCATION_FETCH', `${url} is not cached and fetching is off`), done: noop };
    // Within the back-off of a failed download, or of one already past its nextUpdate: no new
    // download, an answer at once (the evaluation still judges nextUpdate + gracePeriod).
    if (failed) return e && this.#usable(e, now) ? this.#leased(e, 'stale', failed.error) : { cache: 'miss', error: failed.error, done: noop };
    if (e && now < e.retryAt) return this.#leased(e, 'stale');
    try {
      const fresh = await this.#attempt(url);
      if (this.#closed) return { cache: 'miss', error: new RevocationError('ERR_REVOCATION_FETCH', 'the CRL cache is closed'), done: noop };
      // The current entry is the one downloaded or a newer one (never a released one).
      return this.#leased(this.#entries.get(url) ?? fresh, 'miss');
    } catch (err) {
      const error = err as RevocationError; // #attempt throws RevocationErrors only
      const cur = this.#entries.get(url) ?? (e && !e.retired ? e : undefined);
      if (cur && this.#usable(cur, now)) return this.#leased(cur, 'stale', error);
      return { cache: 'miss', error, done: noop };
    }
  }
}
