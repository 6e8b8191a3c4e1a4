import type { OcspAnswer } from '../ocsp/response.js';
import type { RevocationStore } from './crl-cache.js';

/**
 * OCSP answers shared by several nodes (SPEC.md section 10) through a store with a cluster-wide
 * lock: one node asks the responder per certificate and `cacheTtl`, under the lock for that
 * CertID, and stores the answer it verified (good or revoked; never `unknown` or a failure);
 * the others take it from the store. While the lock cannot be had (the engine unreachable), the
 * node asks alone.
 */
const PREFIX = 'ocsp:';

interface Stored {
  status: 'good' | 'revoked';
  reason?: string;
  revokedAt?: string;
  thisUpdate: string;
  nextUpdate?: string;
  fetchedAt: number;
}

export type LockingStore = RevocationStore & { lock<T>(name: string, fn: () => Promise<T>): Promise<T> };

export function sharedOcsp(store: LockingStore, opts: { cacheTtlMs: number; now: () => Date }) {
  const read = async (key: string): Promise<OcspAnswer | undefined> => {
    const bytes = await store.get(PREFIX + key);
    if (!bytes) return undefined;
    let s: Stored;
    try {
      s = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Stored;
    } catch {
      return undefined;
    }
    const now = opts.now().getTime();
    if (now >= s.fetchedAt + opts.cacheTtlMs) return undefined;
    if (s.nextUpdate && now >= Date.parse(s.nextUpdate)) return undefined;
    return { status: s.status, reason: s.reason, revokedAt: s.revokedAt ? new Date(s.revokedAt) : undefined, thisUpdate: new Date(s.thisUpdate), nextUpdate: s.nextUpdate ? new Date(s.nextUpdate) : undefined };
  };
  return {
    /** The answer for `key`: another node's stored one, else `query()` under the lock (stored when good or revoked). */
    async answer(key: string, query: () => Promise<OcspAnswer>): Promise<OcspAnswer> {
      const seen = await read(key);
      if (seen) return seen;
      try {
        return await store.lock(PREFIX + key, async () => {
          const again = await read(key);
          if (again) return again;
          const a = await query();
          if (a.status !== 'unknown') {
            const s: Stored = { status: a.status, reason: a.reason, revokedAt: a.revokedAt?.toISOString(), thisUpdate: a.thisUpdate.toISOString(), nextUpdate: a.nextUpdate?.toISOString(), fetchedAt: opts.now().getTime() };
            await store.put(PREFIX + key, new Uint8Array(Buffer.from(JSON.stringify(s), 'utf8'))).catch(() => undefined);
          }
          return a;
        });
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_STORE_UNAVAILABLE') throw err;
        return query();
      }
    },
  };
}
