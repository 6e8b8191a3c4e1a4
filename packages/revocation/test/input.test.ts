import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCertificateVerification } from '@harper-tls/config';
import { KeyObject } from 'node:crypto';
import { createRevocationChecker, normalizeChain, parseCertificate, ParsedCertificateCache } from '../src/index.js';
import { OpensslPki } from './helpers/openssl-pki.js';

/** normalizeChain with the checker's cache of parsed certificates, and lazily built keys. */
const pki = new OpensslPki();
const der = (name: string) => Buffer.from(pki.pem(name).replace(/-----[^-]+-----|\s/g, ''), 'base64');

beforeAll(() => {
  pki.ca('root');
  pki.issue('inter', 'root', '20', { ca: true, cn: 'Inter CA' });
  pki.database('inter');
  pki.issue('leaf', 'inter', '30');
  pki.issue('leaf2', 'inter', '31');
}, 30_000);
afterAll(() => pki.cleanup());

describe('ParsedCertificateCache', () => {
  it('parses each DER once: fresh Buffers with the same bytes get the same CertInfo', () => {
    const cache = new ParsedCertificateCache();
    const a = normalizeChain([der('leaf'), der('inter'), der('root')], cache);
    const b = normalizeChain([der('leaf'), der('inter'), der('root')], cache);
    expect(b).toHaveLength(3);
    b.forEach((c, i) => expect(c).toBe(a[i]));
    expect([cache.hits, cache.misses, cache.size]).toEqual([3, 3, 3]);
    expect(b[0]!.subject).toBe('CN=leaf');
    // Without a cache, a new parse each time (the public behaviour so far).
    expect(normalizeChain([der('leaf')])[0]).not.toBe(a[0]);
  });

  it('keeps the most recently used entries, up to maxEntries', () => {
    const cache = new ParsedCertificateCache(2);
    const [leaf] = normalizeChain([der('leaf')], cache);
    normalizeChain([der('inter')], cache);
    normalizeChain([der('leaf')], cache); // leaf is now the most recent
    normalizeChain([der('root')], cache); // evicts inter
    expect(cache.size).toBe(2);
    expect(normalizeChain([der('leaf')], cache)[0]).toBe(leaf);
    const misses = cache.misses;
    normalizeChain([der('inter')], cache);
    expect(cache.misses).toBe(misses + 1);
  });

  it('owns a copy of the DER: a caller reusing its buffer does not change the cached certificate', () => {
    const cache = new ParsedCertificateCache();
    const buf = der('leaf');
    const [info] = normalizeChain([buf], cache);
    const serial = info!.serialHex;
    buf.fill(0);
    expect(info!.serialHex).toBe(serial);
    expect(Buffer.from(info!.der).equals(der('leaf'))).toBe(true);
    expect(normalizeChain([der('leaf')], cache)[0]).toBe(info);
  });

  it('the same DER object is found again without rehashing, but a rewritten buffer is not taken for the old certificate', () => {
    const cache = new ParsedCertificateCache();
    const buf = new Uint8Array(der('leaf'));
    const [info] = normalizeChain([buf], cache);
    expect(normalizeChain([buf], cache)[0]).toBe(info);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
    buf[buf.length - 1] ^= 0xff; // another certificate now (last byte of the signature)
    const [other] = normalizeChain([buf], cache);
    expect(other).not.toBe(info);
    expect(Buffer.from(other!.der).equals(Buffer.from(buf))).toBe(true);
    expect(cache.misses).toBe(2);
    buf[buf.length - 1] ^= 0xff; // back: the original entry again
    expect(normalizeChain([buf], cache)[0]).toBe(info);
  });

  it('does not cache what does not parse', () => {
    const cache = new ParsedCertificateCache();
    const bad = der('leaf').subarray(0, 100);
    for (let i = 0; i < 2; i++) expect(() => normalizeChain([bad], cache)).toThrow(expect.objectContaining({ code: 'ERR_REVOCATION_MALFORMED_CERT' }));
    expect([cache.size, cache.misses]).toEqual([0, 2]);
  });

  it('public keys are built on first use, once', () => {
    const c = parseCertificate(der('inter'));
    expect(c.publicKey).toBeInstanceOf(KeyObject);
    expect(c.publicKey).toBe(c.publicKey);
    expect(c.publicKey!.asymmetricKeyType).toBe('ec');
  });
});

describe('the checker with cached certificates', () => {
  it('still refuses a chain out of order after the same certificates passed in order', async () => {
    const config = defaultCertificateVerification();
    config.ocsp.enabled = false;
    config.failureMode = 'fail-open';
    const checker = createRevocationChecker({ config, crls: [pki.crl('root'), pki.crl('inter')] });
    for (let i = 0; i < 2; i++) expect((await checker.check([der('leaf'), der('inter'), der('root')])).status).toBe('good');
    // The leaf is cached and was verified against inter, never against root.
    await expect(checker.check([der('leaf'), der('root')])).rejects.toMatchObject({ code: 'ERR_REVOCATION_INPUT', message: expect.stringContaining('is not issued by') });
    await expect(checker.check([der('leaf2'), der('leaf'), der('root')])).rejects.toMatchObject({ code: 'ERR_REVOCATION_INPUT' });
    expect((await checker.check([der('leaf2'), der('inter'), der('root')])).status).toBe('good');
  });
});
