import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrlCache, type RevocationStore } from '../../src/cache/crl-cache.js';
import { node } from '../helpers/shared-node.js';
import type { FetchLike } from '../../src/fetch/fetch-bytes.js';
import { OpensslPki } from '../helpers/openssl-pki.js';

/**
 * CRL caches of several workers of one node (SharedRevocation): one download per node even when
 * all need it at once, and a refresh reaches every cache before the one that fetched it uses it.
 * The node here is in-process (locks and delivery like the server's primary); the server's
 * tests run the same with real worker processes.
 */
const URL = 'http://crl.test/ca.crl';
const pki = new OpensslPki();
let first: Uint8Array;
let second: Uint8Array;

beforeAll(() => {
  pki.ca('ca');
  pki.issue('leaf', 'ca', '1f');
  first = pki.crl('ca', 'one.crl');
  pki.revoke('leaf', 'ca');
  second = pki.crl('ca', 'two.crl');
}, 30_000);
afterAll(() => pki.cleanup());

function mapStore(): RevocationStore {
  const map = new Map<string, Uint8Array>();
  return { get: async (k) => map.get(k) && new Uint8Array(map.get(k)!), put: async (k, v) => void map.set(k, new Uint8Array(v)) };
}

describe('CRL caches sharing one node (SharedRevocation)', () => {
  it('downloads once when every worker needs the CRL at the same moment, and refreshes reach all before use', async () => {
    let body = first;
    let downloads = 0;
    const fetch: FetchLike = async () => {
      downloads++;
      await new Promise((r) => setTimeout(r, 20)); // the others arrive while it downloads
      return new Response(Buffer.from(body));
    };
    let t = Date.parse('2026-01-01T00:00:00Z');
    const now = () => new Date(t);
    const store = mapStore();
    const n = node();
    const caches = [0, 1, 2].map(() => {
      const shared = n.member();
      const c = new CrlCache({ timeoutMs: 5000, cacheTtlMs: 60_000, gracePeriodMs: 3_600_000, maxBytes: 1 << 20, fetch, store, now, shared });
      shared.subscribe(async (e) => {
        if (e.kind === 'crl') await c.reload(e.url);
      });
      return c;
    });

    const got = await Promise.all(caches.map((c) => c.get(URL)));
    expect(downloads).toBe(1);
    expect(got.map((g) => g.crl?.size)).toEqual([0, 0, 0]);

    // Past cacheTtl: the CRL server now lists the leaf. One cache refreshes; the others have the new copy when it answers.
    body = second;
    t += 120_000;
    const refreshed = await caches[1]!.get(URL);
    expect(refreshed.crl?.size).toBe(1);
    expect(downloads).toBe(2);
    for (const c of caches) expect((await c.get(URL, { noFetch: true })).crl?.size).toBe(1);
    // The others took it from the store, without downloading.
    const again = await Promise.all(caches.map((c) => c.get(URL)));
    expect(again.map((g) => [g.cache, g.crl?.size])).toEqual([['hit', 1], ['hit', 1], ['hit', 1]]);
    expect(downloads).toBe(2);
    expect(n.published.filter((e) => e.kind === 'crl')).toHaveLength(2);
  });
});
