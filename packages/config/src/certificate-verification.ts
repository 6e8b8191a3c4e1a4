import type { CertificateVerificationConfig } from './types.js';
import type { ConfigIssue } from './issues.js';
import { ResolveContext } from './context.js';
import { MTLS_KEYS, type KeyTree } from './keys.js';
import { readVerification } from './mtls.js';
import { walk } from './unknown-keys.js';

export interface NormalizedCertificateVerification {
  /** The resolved settings (`false`: revocation checking is off). Fail-closed defaults while `issues` is not empty. */
  value: CertificateVerificationConfig | false;
  /** Every problem found, each with `key` prefixed by `opts.key` (e.g. `revocation.crl.timeout`). */
  issues: ConfigIssue[];
}

/**
 * Validates a `certificateVerification` value given in code rather than in the configuration
 * file (an adapter's `revocation` option, for example), with the rules, defaults and messages of
 * the configuration key: `false` / absent = off; `true` or `{}` = CRL then OCSP, fail-closed;
 * otherwise `{failureMode, crl, ocsp}` with the same sub-keys, unknown keys reported.
 * Durations are in ms. Never throws: the caller turns `issues` into its own error.
 * @param opts.key the name to report problems under; default `certificateVerification`
 */
export function normalizeCertificateVerification(value: unknown, opts: { key?: string } = {}): NormalizedCertificateVerification {
  const key = opts.key ?? 'certificateVerification';
  const ctx = new ResolveContext({ value: { [key]: value }, origins: new Map() }, '', '', '');
  const result = readVerification(ctx, [key]);
  walk(ctx, value, MTLS_KEYS.certificateVerification as KeyTree, [key]);
  return { value: result, issues: [...ctx.issues] };
}
