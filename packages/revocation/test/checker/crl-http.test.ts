import { describe, expect, it } from 'vitest';
import { base, caCrl, caCrlInterRevoked, chainOf, checker, hits, pki, routes, serve, type Modes } from '../helpers/checker-fixture.js';

/** CRLs from `openssl ca -gencrl` over a local HTTP server, OCSP fallback, the failure-mode matrix. */
describe('CRLs over HTTP (openssl ca -gencrl), then OCSP, then the failure modes', () => {
  it('good and revoked from the distribution point, DER and PEM', async () => {
    const c = checker({ ocsp: false });
    expect((await c.check(chainOf('crlgood'))).certificates[0]).toMatchObject({ status: 'good', method: 'crl', source: `${base()}/crl/ca` });
    const r = await c.check(chainOf('crlrevoked'));
    expect(r).toMatchObject({ status: 'revoked', allowed: false });
    expect(r.certificates[0]).toMatchObject({ method: 'crl', reason: 'keyCompromise', cache: 'hit' });
    expect((await c.check(chainOf('crlpem'))).status).toBe('good');
  });

  it('falls back to OCSP when the CRL cannot be had', async () => {
    const v = await checker().check(chainOf('crlthenocsp'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    expect(v.certificates[0]!.method).toBe('ocsp');
    expect(v.certificates[0]!.errors.join(' ')).toMatch(/crl: .*500/);
  });

  it('checks the whole chain: a revoked intermediate revokes the leaf under it', async () => {
    routes.set('/crl/inter', serve(pki.crl('inter')));
    const good = await checker({ ocsp: false }).check(chainOf('underinter', 'inter', 'ca'));
    expect(good.status).toBe('good');
    expect(good.certificates.map((c) => c.status)).toEqual(['good', 'good']);
    routes.set('/crl/ca', serve(caCrlInterRevoked));
    try {
      const bad = await checker({ ocsp: false }).check(chainOf('underinter', 'inter', 'ca'));
      expect(bad).toMatchObject({ status: 'revoked', allowed: false });
      expect(bad.certificates.map((c) => c.status)).toEqual(['good', 'revoked']);
      expect(bad.certificates[1]!.reason).toBe('cACompromise');
    } finally {
      routes.set('/crl/ca', (res) => serve(caCrl)(res));
    }
  });

  it('100 concurrent checks of a cold distribution point download it once', async () => {
    const before = hits.get('/crl/ca') ?? 0;
    const c = checker({ ocsp: false });
    const all = await Promise.all(Array.from({ length: 100 }, () => c.check(chainOf('crlgood'))));
    expect(all.every((v) => v.status === 'good')).toBe(true);
    expect((hits.get('/crl/ca') ?? 0) - before).toBe(1);
  });

  it('a persistent store spares a new checker (a restart) the download', async () => {
    const map = new Map<string, Uint8Array>();
    const store = { get: async (k: string) => map.get(k), put: async (k: string, v: Uint8Array) => void map.set(k, v) };
    const before = hits.get('/crl/ca') ?? 0;
    expect((await checker({ ocsp: false }, { store }).check(chainOf('crlgood'))).status).toBe('good');
    // The store write is not awaited by the check: wait for it (bounded).
    for (let i = 0; i < 500 && map.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(map.size).toBe(1);
    const second = await checker({ ocsp: false }, { store }).check(chainOf('crlrevoked'));
    expect(second.status).toBe('revoked');
    expect((hits.get('/crl/ca') ?? 0) - before).toBe(1);
  });

  it('serves the cached CRL (stale) when a refresh after cacheTtl fails, within nextUpdate + grace', async () => {
    let now = Date.now();
    const c = checker({ ocsp: false, crl: { cacheTtl: 1000 } }, { now: () => new Date(now) });
    expect((await c.check(chainOf('crlgood'))).certificates[0]!.cache).toBe('miss');
    routes.set('/crl/ca', routes.get('/crl/500')!);
    try {
      now += 5000;
      const v = await c.check(chainOf('crlrevoked'), { at: new Date(now) });
      expect(v.status).toBe('revoked');
      expect(v.certificates[0]!.cache).toBe('stale');
    } finally {
      routes.set('/crl/ca', (res) => serve(caCrl)(res));
    }
  });

  // [certificate, what the distribution point does]
  const broken: Array<[string, string]> = [
    ['crl500', 'answers 500'],
    ['crltrunc', 'serves a truncated CRL'],
    ['crlbig', 'serves more than the size limit'],
    ['crlhang', 'never finishes the body'],
  ];
  it.each(broken)('%s (the CRL server %s): unknown; refused fail-closed, allowed by crl fail-open', async (name) => {
    const opts = { maxDownloadBytes: 32 * 1024 };
    const closed = await checker({ ocsp: false }, opts).check(chainOf(name));
    expect(closed).toMatchObject({ status: 'unknown', allowed: false });
    const open = await checker({ ocsp: false, crl: { failureMode: 'fail-open' } }, opts).check(chainOf(name));
    expect(open).toMatchObject({ status: 'unknown', allowed: true });
  });

  it('a CRL with the right issuer name but a bad signature is never accepted, in any mode', async () => {
    for (const m of [{}, { global: 'fail-open', crl: { failureMode: 'fail-open' }, ocsp: { failureMode: 'fail-open' } }] as Modes[]) {
      const v = await checker(m).check(chainOf('crlfake'));
      expect(v).toMatchObject({ status: 'unknown', allowed: false });
    }
    // ... but a good OCSP answer still settles it.
    expect((await checker().check(chainOf('crlfakeocspgood'))).status).toBe('good');
  });
});

describe('failure-mode matrix (SPEC.md section 2)', () => {
  // [certificate, global, crl mode, ocsp mode, allowed]
  const rows: Array<[string, 'fail-open' | 'fail-closed', 'fail-open' | 'fail-closed', 'fail-open' | 'fail-closed', boolean]> = [
    // nothing to ask (no CDP, no AIA): the global mode decides
    ['bare', 'fail-closed', 'fail-open', 'fail-open', false],
    ['bare', 'fail-open', 'fail-closed', 'fail-closed', true],
    // only the CRL failed: its mode decides
    ['crl500', 'fail-closed', 'fail-open', 'fail-closed', true],
    ['crl500', 'fail-open', 'fail-closed', 'fail-open', false],
    // only OCSP failed: its mode decides
    ['down', 'fail-closed', 'fail-closed', 'fail-open', true],
    ['down', 'fail-open', 'fail-open', 'fail-closed', false],
    // both failed: allowed only if both are fail-open
    ['crl500ocspdown', 'fail-closed', 'fail-open', 'fail-open', true],
    ['crl500ocspdown', 'fail-open', 'fail-open', 'fail-closed', false],
    ['crl500ocspdown', 'fail-open', 'fail-closed', 'fail-open', false],
    // an invalid answer is never allowed
    ['wrongsigner', 'fail-open', 'fail-open', 'fail-open', false],
    ['crlfake', 'fail-open', 'fail-open', 'fail-open', false],
    // an answer is an answer, whatever the modes
    ['revoked', 'fail-open', 'fail-open', 'fail-open', false],
    ['good', 'fail-closed', 'fail-closed', 'fail-closed', true],
  ];
  it.each(rows)('%s with global %s, crl %s, ocsp %s → allowed %s', async (name, global, crl, ocsp, allowed) => {
    const v = await checker({ global, crl: { failureMode: crl }, ocsp: { failureMode: ocsp } }).check(chainOf(name));
    expect(v.allowed).toBe(allowed);
  });
});
