import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrlCache, type MappedValue, type RevocationStore } from '../../src/cache/crl-cache.js';
import { parseCertificate } from '../../src/cert/parse.js';
import { isIndexedLayout } from '../../src/crl/stored.js';
import type { FetchLike } from '../../src/fetch/fetch-bytes.js';
import { OpensslPki } from '../helpers/openssl-pki.js';

/**
 * The CRL cache with a store that maps values (`getMapped`, as the server's lmdb store does):
 * values are written with their index, the cache reads its CRL from the store's memory instead
 * of keeping the downloaded copy, and a mapped value is given back only once it is replaced and
 * no lookup holds it. Here the store's "map" is memory it overwrites (0xee) on release, like pages
 * lmdb reuses: a lookup that read released memory would see it.
 */
const URL = 'http://crl.test/ca.crl';
const pki = new OpensslPki();
let der: Uint8Array;
let caName: Uint8Array;
const revoked = new Uint8Array([0x12, 0x34]);
const good = new Uint8Array([0x12, 0x35]);

beforeAll(() => {
  pki.ca('ca');
  pki.issue('ee', 'ca', '1234');
  pki.revoke('ee', 'ca');
  der = pki.crl('ca');
  caName = parseCertificate(pki.pem('ca')).subjectDer;
}, 30_000);
afterAll(() => pki.cleanup());

function mappingStore() {
  const map = new Map<string, Uint8Array>();
  const out = { gets: 0, releases: 0, live: 0, puts: [] as Uint8Array[] };
  const store: RevocationStore = {
    get: async () => {
      throw new Error('a mapping store is read with getMapped');
    },
    put: async (k, v) => {
      out.puts.push(v);
      map.set(k, Uint8Array.prototype.slice.call(v));
    },
    getMapped: async (k): Promise<MappedValue | undefined> => {
      const v = map.get(k);
      if (!v) return undefined;
      out.gets++;
      out.live++;
      const bytes = v.slice();
      let once = false;
      return {
        bytes,
        mapped: true,
        release() {
          expect(once, 'released twice').toBe(false);
          once = true;
          out.releases++;
          out.live--;
          bytes.fill(0xee);
        },
      };
    },
  };
  return { store, out, map };
}

const serving = () => {
  let n = 0;
  const fetch: FetchLike = async () => {
    n++;
    return new Response(Buffer.from(der), { headers: { 'content-length': String(der.length) } });
  };
  return { fetch, count: () => n };
};

const cache = (store: RevocationStore, fetch: FetchLike, now: () => Date) => new CrlCache({ timeoutMs: 5000, cacheTtlMs: 3_600_000, gracePeriodMs: 0, maxBytes: 1 << 20, fetch, store, now });
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('CrlCache with a mapping store', () => {
  it('stores the CRL with its index, then reads it from the store instead of keeping the download', async () => {
    const { store, out } = mappingStore();
    const src = serving();
    const c = cache(store, src.fetch, () => new Date());
    const first = await c.get(URL);
    expect(first.cache).toBe('miss');
    expect(first.crl!.lookup(revoked, caName)).toBeDefined();
    first.done();
    await flush();
    expect(out.puts).toHaveLength(1);
    expect(isIndexedLayout(out.puts[0]!)).toBe(true);
    expect(out.gets).toBe(1);
    const second = await c.get(URL);
    // Now the store's copy: a different buffer from the download's.
    expect(second.crl).not.toBe(first.crl);
    expect(second.crl!.der.buffer).not.toBe(first.crl!.der.buffer);
    expect(second.crl!.lookup(revoked, caName)).toMatchObject({ reasonCode: 1 });
    expect(second.crl!.lookup(good, caName)).toBeUndefined();
    second.done();
    expect(c.mappedEntries).toBe(1);
    expect(src.count()).toBe(1);
    await c.close();
    expect(out.live).toBe(0);
  });

  it('a refresh does not release the CRL a lookup still holds; done() does; close waits for the last', async () => {
    const { store, out } = mappingStore();
    const src = serving();
    let now = Date.now();
    const c = cache(store, src.fetch, () => new Date(now));
    (await c.get(URL)).done();
    await flush();
    const held = await c.get(URL);
    expect(out.live).toBe(1);
    // Three refreshes while `held` is not done: its memory stays as it was, the others are released as they are replaced.
    for (let i = 0; i < 3; i++) {
      now += 3_600_001;
      const r = await c.get(URL);
      expect(r.cache).toBe('miss');
      r.done();
      await flush();
      expect(held.crl!.lookup(revoked, caName)).toMatchObject({ reasonCode: 1 });
    }
    expect(src.count()).toBe(4);
    // The held generation and the current one are live; the two in between were released.
    expect(out.live).toBe(2);
    expect(out.releases).toBe(out.gets - 2);
    held.done();
    expect(out.live).toBe(1);
    held.done(); // a second done() changes nothing
    expect(out.live).toBe(1);
    const last = await c.get(URL);
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    await flush();
    expect(closed).toBe(false);
    expect(last.crl!.lookup(revoked, caName)).toBeDefined();
    last.done();
    await closing;
    expect(out.live).toBe(0);
    expect((await c.get(URL)).error?.message).toMatch(/closed/);
  });

  it('lookups interleaved with refreshes: every answer right, nothing read after release', async () => {
    const { store, out } = mappingStore();
    const src = serving();
    let now = Date.now();
    const c = cache(store, src.fetch, () => new Date(now));
    const answers: Array<Promise<[boolean, boolean]>> = [];
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 20; k++) {
        answers.push(
          c.get(URL).then(async (r) => {
            // Hold across event turns, as a check with several CRLs does.
            await new Promise((res) => setImmediate(res));
            const a: [boolean, boolean] = [r.crl!.lookup(revoked, caName) !== undefined, r.crl!.lookup(good, caName) === undefined];
            r.done();
            return a;
          }),
        );
      }
      now += 3_600_001;
      await flush();
    }
    expect(await Promise.all(answers)).toEqual(Array(answers.length).fill([true, true]));
    await flush();
    expect(out.live).toBe(1);
    await c.close();
    expect(out.live).toBe(0);
  });
});

describe('CrlCache with a mapping store that does not keep what is put (the doctor reads the server store read-only)', () => {
  it('keeps the download instead of taking the older stored copy', async () => {
    const { store, out, map } = mappingStore();
    let now = Date.now();
    const src = serving();
    const c = cache(store, src.fetch, () => new Date(now));
    (await c.get(URL)).done();
    await flush();
    const stored = map.get(`crl:${URL}`)!;
    const readOnly: RevocationStore = { ...store, put: async () => undefined };
    now += 3_600_001;
    const d = cache(readOnly, src.fetch, () => new Date(now));
    const r = await d.get(URL);
    expect(r.cache).toBe('miss');
    r.done();
    await flush();
    // The stored copy (fetched an hour earlier) was read back and given back; the download is what is used.
    const again = await d.get(URL);
    expect(again.cache).toBe('hit');
    expect(again.crl!.der.buffer).not.toBe(stored.buffer);
    again.done();
    expect(d.mappedEntries).toBe(0);
    expect(out.live).toBe(1); // c's
    await c.close();
    await d.close();
    expect(out.live).toBe(0);
  });
});
