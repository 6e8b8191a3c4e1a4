import { RevocationError } from '../errors.js';

/*
 * The CRL profile of RFC 5280 sections 5.2 and 5.3 that decides whether a CRL may be used at
 * all. A CRL is unusable (ERR_REVOCATION_CRL_PROFILE) when it has:
 * - a critical CRL or entry extension this reader does not handle (5.2, 5.3: "MUST NOT use that
 *   CRL to determine the status of any certificates"), including a known one the RFC requires
 *   to be non-critical (cRLNumber, freshestCRL, authorityInfoAccess, reasonCode, invalidityDate);
 * - the same extension twice, in the CRL or in one entry (X.509: each extension at most once;
 *   which of two values counts would be a guess);
 * - extensions while it has no version field (a v1 CRL: 5.1.2.1 requires v2 when extensions
 *   are used).
 * OpenSSL 3.0 refuses the first kind (X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION) with the
 * same list of handled extensions; it accepts the other two, which this reader refuses.
 */

/**
 * What a critical flag means on each known extension. `handled`: processed, critical or not
 * (RFC 5280 5.2.1 sets no criticality for authorityKeyIdentifier; 5.2.4, 5.2.5 and 5.3.3 make
 * deltaCRLIndicator, issuingDistributionPoint and certificateIssuer critical). Otherwise the
 * section that requires it non-critical: a critical one makes the CRL unusable, as in OpenSSL
 * (X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION). Any other critical extension is unknown.
 */
export const CRL_EXT_CRITICAL: Record<string, { name: string; rule: string }> = {
  '2.5.29.35': { name: 'authorityKeyIdentifier', rule: 'handled' },
  '2.5.29.27': { name: 'deltaCRLIndicator', rule: 'handled' },
  '2.5.29.28': { name: 'issuingDistributionPoint', rule: 'handled' },
  '2.5.29.20': { name: 'cRLNumber', rule: 'RFC 5280 section 5.2.3 requires it non-critical' },
  '2.5.29.18': { name: 'issuerAltName', rule: 'RFC 5280 section 5.2.2 wants it non-critical and this reader does not process it' },
  '2.5.29.46': { name: 'freshestCRL', rule: 'RFC 5280 section 5.2.6 requires it non-critical' },
  '1.3.6.1.5.5.7.1.1': { name: 'authorityInfoAccess', rule: 'RFC 5280 section 5.2.7 requires it non-critical' },
};
export const ENTRY_EXT_CRITICAL: Record<string, { name: string; rule: string }> = {
  '2.5.29.29': { name: 'certificateIssuer', rule: 'handled' },
  '2.5.29.21': { name: 'reasonCode', rule: 'RFC 5280 section 5.3.1 defines it non-critical' },
  '2.5.29.24': { name: 'invalidityDate', rule: 'RFC 5280 section 5.3.2 defines it non-critical' },
  '2.5.29.23': { name: 'holdInstructionCode', rule: 'RFC 3280 section 5.3.2 defines it non-critical' },
};

/** Why a critical extension `oid` makes a CRL unusable, or undefined when it is handled. */
export function criticalProblem(table: typeof CRL_EXT_CRITICAL, oid: string): string | undefined {
  const known = table[oid];
  if (!known) return `has an unknown critical extension ${oid}`;
  return known.rule === 'handled' ? undefined : `marks ${known.name} (${oid}) critical, but ${known.rule}`;
}

export function profileError(issuer: string, why: string): RevocationError {
  return new RevocationError('ERR_REVOCATION_CRL_PROFILE', `the CRL from ${issuer} is not usable: ${why}`);
}
