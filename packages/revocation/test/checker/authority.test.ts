import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCertificateVerification } from '@harper-tls/config';
import { createRevocationChecker, type AuthorityAnswer } from '../../src/index.js';
import { OpensslPki } from '../helpers/openssl-pki.js';

/**
 * `authorities`: a CA's own records answer for its certificates before any CRL or OCSP (the
 * server's local CA), matched by the issuer's subject and key; no record falls back to CRL/OCSP.
 */
describe('checker authorities', () => {
  const pki = new OpensslPki();
  let crl: Uint8Array;
  const chain = () => [pki.der('leaf.crt'), pki.der('root.crt')];
  const config = { ...defaultCertificateVerification(), enabled: true as const };

  beforeAll(() => {
    pki.ca('root', 'Authority Root');
    pki.issue('leaf', 'root', '1001', { cdp: 'http://127.0.0.1:9/never-fetched.crl' });
    crl = pki.crl('root');
    // Same name, another key: not the authority.
    pki.ca('impostor', 'Authority Root');
  });
  afterAll(() => pki.cleanup());

  const checker = (status: (serial: string) => AuthorityAnswer | undefined | Promise<AuthorityAnswer | undefined>, certificate = pki.der('root.crt')) =>
    createRevocationChecker({ config, crls: [crl], authorities: [{ certificate, status }], fetch: () => Promise.reject(new Error('no fetch in this test')) });

  it('a revoked record wins over a CRL that says good, without any download', async () => {
    const asked: string[] = [];
    const v = await checker((s) => (asked.push(s), { status: 'revoked', reason: 'keyCompromise', revokedAt: new Date(Date.now() - 1000) })).check(chain());
    expect(asked).toEqual(['1001']);
    expect(v).toMatchObject({ status: 'revoked', allowed: false, certificates: [{ status: 'revoked', method: 'authority', reason: 'keyCompromise', source: 'local CA records' }] });
  });

  it('a good record is good; a revocation after the time asked about is not yet one', async () => {
    expect((await checker(() => ({ status: 'good' })).check(chain())).certificates[0]).toMatchObject({ status: 'good', method: 'authority' });
    const later = { status: 'revoked' as const, revokedAt: new Date(Date.now() + 3_600_000) };
    expect((await checker(() => later).check(chain())).certificates[0]).toMatchObject({ status: 'good', method: 'authority' });
    expect((await checker(() => later).check(chain(), { at: new Date(Date.now() + 7_200_000) })).certificates[0]).toMatchObject({ status: 'revoked', method: 'authority' });
  });

  it('no record, a failing store, or a CA of the same name with another key: the CRL answers', async () => {
    expect((await checker(() => undefined).check(chain())).certificates[0]).toMatchObject({ status: 'good', method: 'crl' });
    const failing = (await checker(() => Promise.reject(new Error('store closed'))).check(chain())).certificates[0]!;
    expect(failing).toMatchObject({ status: 'good', method: 'crl' });
    expect(failing.errors).toContain('authority: store closed');
    let asked = 0;
    const other = await checker(() => (asked++, { status: 'revoked' }), pki.der('impostor.crt')).check(chain());
    expect(asked).toBe(0);
    expect(other.certificates[0]).toMatchObject({ status: 'good', method: 'crl' });
  });

  it('rejects an authority without a status function', () => {
    expect(() => createRevocationChecker({ config, authorities: [{ certificate: pki.der('root.crt') } as never] })).toThrow(/authorities\[0\] needs/);
  });
});
