import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrlCache, type RevocationStore } from '../../src/cache/crl-cache.js';
import type { FetchLike } from '../../src/fetch/fetch-bytes.js';
import { OpensslPki } from '../helpers/openssl-pki.js';

/**
 * The CRL cache's persistent store: the value format (8-byte big-endian fetch time, then the DER),
 * written without a copy of the CRL, and read back (values written by earlier versions too) or,
 * when unreadable, downloaded again and never used.
 */
const URL = 'http://crl.test/ca.crl';
const pki = new OpensslPki();
let der: Uint8Array;

beforeAll(() => {
  pki.ca('ca');
  der = pki.crl('ca');
}, 30_000);
afterAll(() => pki.cleanup());

function mapStore() {
  const map = new Map<string, Uint8Array>();
  const puts: Uint8Array[] = [];
  const store: RevocationStore = {
    get: async (k) => map.get(k),
    put: async (k, v) => {
      puts.push(v);
      map.set(k, v);
    },
  };
  return { map, puts, store };
}

function serving(body: () => Uint8Array, opts: { chunked?: boolean } = {}) {
  let downloads = 0;
  const fetch: FetchLike = async () => {
    downloads++;
    const b = body();
    if (!opts.chunked) return new Response(Buffer.from(b), { headers: { 'content-length': String(b.length) } });
    // No content-length, several pieces.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < b.length; i += 100) c.enqueue(b.slice(i, i + 100));
        c.close();
      },
    });
    return new Response(stream);
  };
  return { fetch, count: () => downloads };
}

const cache = (store: RevocationStore, fetch: FetchLike, now = () => new Date(), warn: string[] = []) =>
  new CrlCache({ timeoutMs: 5000, cacheTtlMs: 3_600_000, gracePeriodMs: 0, maxBytes: 1 << 20, fetch, store, now, logger: { debug() {}, info() {}, warn: (o: object) => void warn.push(JSON.stringify(o)), error() {} } });

/** The old format, as written by earlier versions: Buffer.concat([8-byte BE double, DER]). */
function oldFormat(fetchedAt: number, body: Uint8Array): Uint8Array {
  const head = Buffer.alloc(8);
  head.writeDoubleBE(fetchedAt, 0);
  return new Uint8Array(Buffer.concat([head, body]));
}

describe('CrlCache store values', () => {
  for (const chunked of [false, true]) {
    it(`writes fetch time + DER as one value, sharing the parsed CRL's memory (no copy)${chunked ? ', chunked body' : ''}`, async () => {
      const { puts, store } = mapStore();
      const at = new Date('2026-11-30T12:00:00.000Z');
      const src = serving(() => der, { chunked });
      const r = await cache(store, src.fetch, () => at).get(URL);
      expect(r.cache).toBe('miss');
      await new Promise((res) => setImmediate(res));
      expect(puts).toHaveLength(1);
      const v = puts[0]!;
      expect(v.length).toBe(8 + der.length);
      expect(Buffer.from(v.buffer, v.byteOffset, 8).readDoubleBE(0)).toBe(at.getTime());
      expect(Buffer.from(v.subarray(8)).equals(Buffer.from(der))).toBe(true);
      // The stored value and the in-memory CRL are one buffer.
      expect(r.crl!.der.buffer).toBe(v.buffer);
      expect(r.crl!.der.byteOffset).toBe(v.byteOffset + 8);
      // Byte for byte what the previous versions wrote.
      expect(Buffer.from(v).equals(Buffer.from(oldFormat(at.getTime(), der)))).toBe(true);
    });
  }

  it('reads a value written by the previous versions (Buffer.concat of header and DER) without downloading, keeping its fetch time', async () => {
    const { map, store } = mapStore();
    const fetchedAt = Date.now() - 10 * 60_000;
    map.set(`crl:${URL}`, oldFormat(fetchedAt, der));
    const src = serving(() => der);
    const c = cache(store, src.fetch);
    const r = await c.get(URL);
    expect(r).toMatchObject({ cache: 'hit' });
    expect(r.crl!.size).toBe(0);
    expect(src.count()).toBe(0);
    // Past cacheTtl from that fetch time, it is downloaded again.
    const later = cache(store, src.fetch, () => new Date(fetchedAt + 3_600_001));
    expect((await later.get(URL)).cache).toBe('miss');
    expect(src.count()).toBe(1);
  });

  it('a value that is not a whole CRL (truncated, header only, garbage) is downloaded again, never used', async () => {
    for (const bad of [oldFormat(Date.now(), der.subarray(0, der.length - 1)), oldFormat(Date.now(), new Uint8Array(0)), new Uint8Array(5), oldFormat(Date.now(), new Uint8Array([0x30, 0x03, 1, 2, 3]))]) {
      const { map, store } = mapStore();
      map.set(`crl:${URL}`, bad);
      const src = serving(() => der);
      const warn: string[] = [];
      const r = await cache(store, src.fetch, () => new Date(), warn).get(URL);
      expect(r.cache).toBe('miss');
      expect(r.crl!.der.length).toBe(der.length);
      expect(src.count()).toBe(1);
      // Too short to hold a CRL: simply absent; else a warning that it could not be read.
      expect(warn).toHaveLength(bad.length > 8 ? 1 : 0);
      // Replaced by the complete CRL.
      await new Promise((res) => setImmediate(res));
      expect(map.get(`crl:${URL}`)!.length).toBe(8 + der.length);
    }
  });

  it('a refresh stores the new download (its own buffer), the old CRL object stays intact', async () => {
    const { puts, store } = mapStore();
    let now = Date.now();
    const src = serving(() => der);
    const c = cache(store, src.fetch, () => new Date(now));
    const first = (await c.get(URL)).crl!;
    now += 3_600_001;
    const second = (await c.get(URL)).crl!;
    expect(second).not.toBe(first);
    expect(second.der.buffer).not.toBe(first.der.buffer);
    await new Promise((res) => setImmediate(res));
    expect(puts).toHaveLength(2);
    expect(puts[1]!.buffer).toBe(second.der.buffer);
    expect(Buffer.from(first.der).equals(Buffer.from(der))).toBe(true);
  });
});

describe('CrlCache back-off (no download on every check of an expired CRL or a failing distribution point)', () => {
  const MIN = 60_000;
  const backoffCache = (fetch: FetchLike, now: () => number) => new CrlCache({ timeoutMs: 5000, cacheTtlMs: 3_600_000, gracePeriodMs: 86_400_000, maxBytes: 1 << 20, fetch, now: () => new Date(now()) });
  const nextUpdateOf = () => new CrlCache({ timeoutMs: 5000, cacheTtlMs: 1000, gracePeriodMs: 0, maxBytes: 1 << 20, fetch: serving(() => der).fetch, now: () => new Date() }).get(URL).then((r) => r.crl!.nextUpdate!.getTime());

  it('a CRL already past nextUpdate (inside the grace period): ten sequential checks, one download; again after the back-off', async () => {
    let now = (await nextUpdateOf()) + 60 * MIN; // an hour past nextUpdate, a day of grace
    const src = serving(() => der);
    const c = backoffCache(src.fetch, () => now);
    const answers = [];
    for (let i = 0; i < 10; i++) {
      const r = await c.get(URL);
      r.done();
      answers.push(r.cache);
      now += 1000;
    }
    expect(src.count()).toBe(1);
    expect(answers).toEqual(['miss', ...Array(9).fill('stale')]);
    now += MIN;
    expect((await c.get(URL)).cache).toBe('miss');
    expect(src.count()).toBe(2);
  });

  it('a failing distribution point: the next check answers at once from the error (no copy) or the stale copy, without a download, until the back-off ends', async () => {
    let now = Date.now();
    let down = true;
    let downloads = 0;
    const fetch: FetchLike = async () => {
      downloads++;
      return down ? new Response('no', { status: 503 }) : new Response(Buffer.from(der));
    };
    const c = backoffCache(fetch, () => now);
    // No copy yet: the error, remembered.
    const first = await c.get(URL);
    expect(first.cache).toBe('miss');
    expect(first.crl).toBeUndefined();
    expect(first.error?.code).toBe('ERR_REVOCATION_FETCH');
    now += 1000;
    const second = await c.get(URL);
    expect(second.crl).toBeUndefined();
    expect(second).toMatchObject({ cache: 'miss', error: first.error });
    expect(downloads).toBe(1);
    now += MIN;
    down = false;
    const got = await c.get(URL);
    expect(got.cache).toBe('miss');
    expect(downloads).toBe(2);
    // Past nextUpdate (within grace) and the distribution point down: one attempt, then the stale copy at once.
    const nextUpdate = got.crl!.nextUpdate!.getTime();
    now = nextUpdate + MIN;
    down = true;
    const stale = await c.get(URL);
    expect(stale).toMatchObject({ cache: 'stale', crl: got.crl });
    expect(downloads).toBe(3);
    for (let i = 0; i < 5; i++) {
      now += 1000;
      expect(await c.get(URL)).toMatchObject({ cache: 'stale', crl: got.crl, error: stale.error });
    }
    expect(downloads).toBe(3);
    now += MIN;
    expect((await c.get(URL)).cache).toBe('stale');
    expect(downloads).toBe(4);
    // Past nextUpdate + grace: never the copy, back-off or not.
    now = nextUpdate + 86_400_000 + 1000;
    const late = await c.get(URL);
    expect([late.cache, late.crl]).toEqual(['miss', undefined]);
    expect(downloads).toBe(5);
    now += 1000;
    const later = await c.get(URL);
    expect([later.cache, later.crl, later.error]).toEqual(['miss', undefined, late.error]);
    expect(downloads).toBe(5);
  });
});
