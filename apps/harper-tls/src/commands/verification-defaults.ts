import type { CertificateVerificationConfig } from '@harper-tls/config';

/** The `certificateVerification: true` settings of SPEC.md section 2, for commands run outside a server. */
export function defaultVerificationConfig(): CertificateVerificationConfig {
  return {
    enabled: true,
    failureMode: 'fail-closed',
    crl: { enabled: true, timeout: 10_000, cacheTtl: 86_400_000, gracePeriod: 86_400_000, failureMode: 'fail-closed' },
    ocsp: { enabled: true, timeout: 5_000, cacheTtl: 3_600_000, errorCacheTtl: 300_000, failureMode: 'fail-closed' },
  };
}
