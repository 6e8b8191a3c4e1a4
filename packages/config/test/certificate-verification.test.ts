import { describe, expect, it } from 'vitest';
import { normalizeCertificateVerification, CRL_DEFAULTS, OCSP_DEFAULTS } from '../src/index.js';

describe('normalizeCertificateVerification', () => {
  it('false and absent are off; true and {} are CRL then OCSP, fail-closed', () => {
    expect(normalizeCertificateVerification(false)).toEqual({ value: false, issues: [] });
    expect(normalizeCertificateVerification(undefined)).toEqual({ value: false, issues: [] });
    for (const v of [true, {}]) {
      const { value, issues } = normalizeCertificateVerification(v);
      expect(issues).toEqual([]);
      expect(value).toEqual({ enabled: true, failureMode: 'fail-closed', crl: { ...CRL_DEFAULTS }, ocsp: { ...OCSP_DEFAULTS } });
    }
  });

  it('reads the keys of certificateVerification', () => {
    const { value, issues } = normalizeCertificateVerification({ failureMode: 'fail-open', crl: { timeout: 2000 }, ocsp: false });
    expect(issues).toEqual([]);
    expect(value).toMatchObject({ failureMode: 'fail-open', crl: { enabled: true, timeout: 2000 }, ocsp: { enabled: false } });
  });

  it('reports bad values and unknown keys under the given name', () => {
    const { issues } = normalizeCertificateVerification({ crl: { timout: 2000, failureMode: 'maybe' }, ocsp: 'yes' }, { key: 'revocation' });
    const keys = issues.map((i) => i.key).sort();
    expect(keys).toEqual(['revocation.crl.failureMode', 'revocation.crl.timout', 'revocation.ocsp']);
    expect(issues.find((i) => i.key === 'revocation.crl.timout')!.message).toMatch(/did you mean "timeout"/);
  });

  it('refuses both methods off', () => {
    const { issues } = normalizeCertificateVerification({ crl: false, ocsp: false });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/both crl and ocsp are disabled/);
  });
});
