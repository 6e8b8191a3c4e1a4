import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/cert/parse.js';
import { buildCrl, value } from '../helpers/crl-builder.js';
import { chainOf, checker, pki, type Modes } from '../helpers/checker-fixture.js';

/** A CRL outside the RFC 5280 profile, given to the whole checker: OCSP next, then the failure modes. */
describe('a CRL that breaks the RFC 5280 profile, in the checker', () => {
  const badCrl = () => {
    const ca = parseCertificate(pki.pem('ca'));
    const now = Date.now();
    return buildCrl(
      {
        issuer: ca.subjectDer,
        thisUpdate: new Date(now - 3600e3),
        nextUpdate: new Date(now + 86400e3),
        exts: [{ oid: '2.5.29.35', value: value.aki(ca.ski!) }, { oid: '2.5.29.20', critical: true, value: value.crlNumber(9) }],
      },
      readFileSync(pki.path('ca.key'), 'utf8'),
    );
  };

  it('falls to OCSP, which settles it ("good" leaf with an OCSP responder)', async () => {
    const v = await checker({}, { crls: [badCrl()] }).check(chainOf('good'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    expect(v.certificates[0]!.method).toBe('ocsp');
    expect(v.certificates[0]!.errors.join(' ')).toMatch(/crl: .*cRLNumber .*ERR_REVOCATION_CRL_PROFILE/);
  });

  it('with no OCSP answer: refused in every failure mode, like a bad signature', async () => {
    const open: Modes = { global: 'fail-open', crl: { failureMode: 'fail-open' }, ocsp: { failureMode: 'fail-open' } };
    for (const m of [{ ...open, ocsp: false as const }, open, {}]) {
      // "down" has an OCSP URL nobody answers; "bare" has neither CDP nor AIA (the local CRL is all).
      for (const leaf of ['bare', 'down']) {
        const v = await checker(m, { crls: [badCrl()] }).check(chainOf(leaf));
        expect(v).toMatchObject({ status: 'unknown', allowed: false });
      }
    }
  });
});
