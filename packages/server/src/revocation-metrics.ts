import type { RevocationChecker, RevocationStore } from '@harper-tls/revocation';
import { storedCrlDates } from '@harper-tls/revocation';
import type { ServerMetrics } from './metrics.js';

/** Wraps a checker so every verdict feeds the revocation counters and latency histogram. */
export function instrumentChecker(checker: RevocationChecker, metrics: ServerMetrics): RevocationChecker {
  return {
    ...checker,
    get stats() {
      return checker.stats;
    },
    async check(chain, opts) {
      // performance.now() + observe(): what startTimer() does, without its closure and label merge per check.
      const t0 = performance.now();
      try {
        const verdict = await checker.check(chain, opts);
        for (const c of verdict.certificates) {
          metrics.revocationChecks.inc({ method: c.method ?? 'none', status: c.status, cache: c.cache ?? 'none' });
        }
        return verdict;
      } finally {
        metrics.revocationLatency.observe((performance.now() - t0) / 1000);
      }
    },
    close: () => checker.close(),
  };
}

type FetchLike = (url: string, init: { method?: string; body?: Uint8Array; headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

/** A fetch for the revocation checker that times every CRL download and OCSP request. */
export function instrumentedFetch(metrics: ServerMetrics, inner: FetchLike = globalThis.fetch as unknown as FetchLike): FetchLike {
  return async (url, init) => {
    const kind = init.method === 'POST' || /ocsp/i.test(init.headers?.['content-type'] ?? '') ? 'ocsp' : 'crl';
    const end = metrics.revocationFetch.startTimer({ kind });
    try {
      const res = await inner(url, init);
      end({ outcome: res.ok ? 'ok' : 'http_error' });
      return res;
    } catch (err) {
      end({ outcome: (err as Error)?.name === 'AbortError' || (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'error' });
      throw err;
    }
  };
}

const CRL_PREFIX = 'crl:';

/**
 * Wraps the revocation store to learn each cached CRL's thisUpdate/nextUpdate (the checker
 * saves `crl:<url>` (crl/stored.ts in @harper-tls/revocation) and reads it back at start), from
 * the CRL's header alone: the entries are not touched, nothing is copied or kept.
 */
export function instrumentedStore(store: RevocationStore, metrics: ServerMetrics): RevocationStore {
  const learn = (key: string, value: Uint8Array | undefined) => {
    if (!value || !key.startsWith(CRL_PREFIX)) return;
    const dates = storedCrlDates(value);
    if (dates) metrics.recordCrl(key.slice(CRL_PREFIX.length), dates);
  };
  return {
    async get(key) {
      const v = await store.get(key);
      learn(key, v);
      return v;
    },
    async put(key, value) {
      learn(key, value);
      return store.put(key, value);
    },
    // Mapped reads (values valid until released: learnt from at once), passed through.
    ...(store.getMapped
      ? {
          getMapped: async (key: string) => {
            const m = await store.getMapped!(key);
            learn(key, m?.bytes);
            return m;
          },
        }
      : {}),
    // A cluster store's lock (SPEC.md section 10), passed through.
    ...(store.lock ? { lock: store.lock.bind(store) } : {}),
  };
}
