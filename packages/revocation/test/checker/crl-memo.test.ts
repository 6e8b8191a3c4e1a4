import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCertificateVerification, type CertificateVerificationConfig } from '@harper-tls/config';
import { createRevocationChecker, parseCertificate } from '../../src/index.js';
import { CrlResultMemo, spanAround } from '../../src/crl/memo.js';
import { checkCertificateWithCrls } from '../../src/crl/evaluate.js';
import { parseCrl } from '../../src/crl/parse.js';
import { OpensslPki } from '../helpers/openssl-pki.js';

/**
 * The checker remembers CRL evaluations (same certificates, same CRL objects, a time inside the
 * span where no validity date changes the answer). These tests pin down that nothing it
 * remembers outlives a CRL refresh or a date that changes the answer.
 */
const pki = new OpensslPki();
const CDP = 'http://crl.test/ca.crl';
const der = (name: string) => new Uint8Array(Buffer.from(pki.pem(name).replace(/-----[^-]+-----|\s/g, ''), 'base64'));
let current: Uint8Array;
const fetches: string[] = [];
const fetchCrl = async (url: string) => {
  fetches.push(url);
  return new Response(Buffer.from(current) as unknown as BodyInit);
};

beforeAll(() => {
  pki.ca('ca');
  pki.issue('leaf', 'ca', '40', { cdp: CDP });
  pki.issue('leaf2', 'ca', '42', { cdp: CDP });
  pki.issue('other', 'ca', '41', { cdp: CDP });
}, 30_000);
afterAll(() => pki.cleanup());

function checkerAt(clock: { t: number }, cacheTtl = 60_000) {
  const config: CertificateVerificationConfig = { ...defaultCertificateVerification(), crl: { ...defaultCertificateVerification().crl, cacheTtl }, ocsp: { ...defaultCertificateVerification().ocsp, enabled: false } };
  return createRevocationChecker({ config, fetch: fetchCrl as never, now: () => new Date(clock.t) });
}

describe('remembered CRL evaluations', () => {
  it('a CRL refresh that adds the serial is applied by the very next check (cache expired: the check waits for it)', async () => {
    current = pki.crl('ca', 'ca1.crl');
    const clock = { t: Date.now() };
    const checker = checkerAt(clock);
    const chain = [der('leaf'), der('ca')];
    for (let i = 0; i < 3; i++) {
      clock.t += 1000;
      const v = await checker.check(chain);
      expect([v.status, v.allowed]).toEqual(['good', true]);
    }
    expect(checker.stats.crlDownloads).toBe(1);
    pki.revoke('leaf', 'ca');
    current = pki.crl('ca', 'ca2.crl');
    clock.t += 60_000; // past cacheTtl
    const v = await checker.check(chain);
    expect(checker.stats.crlDownloads).toBe(2);
    expect([v.status, v.allowed, v.certificates[0]!.reason]).toEqual(['revoked', false, 'keyCompromise']);
    // and it stays so; a certificate the new CRL does not list is still good
    expect((await checker.check(chain)).status).toBe('revoked');
    expect((await checker.check([der('other'), der('ca')])).status).toBe('good');
  });

  it('a background refresh (from 80 % of cacheTtl) that adds the serial is applied as soon as it has landed', async () => {
    current = pki.crl('ca', 'ca3.crl'); // lists leaf, not leaf2
    const clock = { t: Date.now() };
    const checker = checkerAt(clock);
    const chain = [der('leaf2'), der('ca')];
    expect((await checker.check(chain)).status).toBe('good');
    expect((await checker.check(chain)).status).toBe('good');
    pki.revoke('leaf2', 'ca');
    current = pki.crl('ca', 'ca4.crl');
    clock.t += 50_000; // refreshAt (48 s) < now < expiresAt (60 s): served from the old copy, refreshed behind
    expect((await checker.check(chain)).status).toBe('good');
    expect(checker.stats.crlDownloads).toBe(2);
    let status = 'good';
    for (let i = 0; i < 200 && status === 'good'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      status = (await checker.check(chain)).status;
    }
    expect(status).toBe('revoked');
    expect((await checker.check(chain)).status).toBe('revoked');
    expect(checker.stats.crlDownloads).toBe(2);
  });

  it('a since-revoked certificate is refused by the next check when the CRL is given locally', async () => {
    // Local CRLs are fixed per checker: a new checker (what a reload builds) sees the new list.
    const before = createRevocationChecker({ config: { ...defaultCertificateVerification(), ocsp: { ...defaultCertificateVerification().ocsp, enabled: false } }, crls: [pki.crl('ca', 'ca5.crl')] });
    expect((await before.check([der('other'), der('ca')])).status).toBe('good');
    pki.revoke('other', 'ca');
    const after = createRevocationChecker({ config: { ...defaultCertificateVerification(), ocsp: { ...defaultCertificateVerification().ocsp, enabled: false } }, crls: [pki.crl('ca', 'ca6.crl')] });
    expect((await after.check([der('other'), der('ca')])).status).toBe('revoked');
  });
});

describe('CrlResultMemo', () => {
  it('reuses a result only inside the span around the time it was computed, and matches a fresh evaluation at every time', () => {
    const crl = parseCrl(pki.crl('ca', 'ca7.crl'));
    const leaf = parseCertificate(der('leaf2'));
    const ca = parseCertificate(der('ca'));
    const grace = 3_600_000;
    const args = (at: number) => ({ cert: leaf, issuer: ca, crls: [crl], at: new Date(at), gracePeriodMs: grace, candidateSigners: [leaf, ca], anchors: [ca] });
    const memo = new CrlResultMemo();
    const t0 = crl.thisUpdate.getTime() + 1000;
    const next = crl.nextUpdate!.getTime();
    const times = [t0, t0 + 5, next - 1, next + 1, next + grace - 1, next + grace + 1, t0 + 2, t0 + 3, crl.thisUpdate.getTime() - 6 * 60_000, ca.notAfter.getTime() + 1];
    for (const t of times) expect(memo.evaluate(args(t))).toEqual(checkCertificateWithCrls(args(t)));
    // t0 + 5, t0 + 2, t0 + 3 and next - 1 fall in the first span (until nextUpdate); next + 1 and next + grace - 1 share one
    expect(memo.hits).toBe(5);
    expect(memo.evaluate(args(next + grace + 1)).status).toBe('unknown'); // expired beyond the grace period: never the remembered "revoked"/"good"
  });

  it('a new CRL object is a miss, even with the same bytes', () => {
    const bytes = pki.crl('ca', 'ca8.crl');
    const leaf = parseCertificate(der('leaf2'));
    const ca = parseCertificate(der('ca'));
    const memo = new CrlResultMemo();
    const at = new Date();
    const run = (crl: ReturnType<typeof parseCrl>) => memo.evaluate({ cert: leaf, issuer: ca, crls: [crl], at, gracePeriodMs: 0, candidateSigners: [leaf, ca], anchors: [ca] });
    run(parseCrl(bytes));
    run(parseCrl(bytes));
    expect([memo.hits, memo.misses]).toEqual([0, 2]);
  });

  it('a time equal to one of the dates is not remembered (the answer may flip right after it)', () => {
    const crl = parseCrl(pki.crl('ca', 'ca9.crl'));
    const leaf = parseCertificate(der('leaf2'));
    const ca = parseCertificate(der('ca'));
    const base = { cert: leaf, issuer: ca, crls: [crl], gracePeriodMs: 0, candidateSigners: [], anchors: [ca] };
    expect(spanAround(crl.nextUpdate!.getTime(), base)).toBeUndefined();
    expect(spanAround(ca.notAfter.getTime(), base)).toBeUndefined();
    const s = spanAround(crl.thisUpdate.getTime() + 1, base)!;
    expect(s.after).toBeGreaterThanOrEqual(crl.thisUpdate.getTime() - 5 * 60_000);
    expect(s.before).toBe(crl.nextUpdate!.getTime());
  });
});
