import { certificateProfileProblem, type CertInfo } from '../cert/parse.js';
import type { DistributionPoint, GeneralName } from '../cert/general-names.js';
import { isIssuedBy, verifySignature } from '../cert/verify.js';
import { namesEqual } from '../der/name.js';
import type { ParsedCrl, IssuingDistributionPoint } from './types.js';

/** ReasonFlags bits 1-8 (keyCompromise ... aACompromise): "all-reasons" of RFC 5280 section 6.3.3. */
export const ALL_REASONS = 0x1fe;
const REMOVE_FROM_CRL = 8;
export const REASON_NAMES: Record<number, string> = {
  0: 'unspecified', 1: 'keyCompromise', 2: 'cACompromise', 3: 'affiliationChanged', 4: 'superseded',
  5: 'cessationOfOperation', 6: 'certificateHold', 8: 'removeFromCRL', 9: 'privilegeWithdrawn', 10: 'aACompromise',
};

export type CrlCheckResult =
  | { status: 'good'; crlIssuer: string }
  | { status: 'revoked'; reason: string; revokedAt: Date; crlIssuer: string }
  /** `invalid`: a CRL was found but failed verification (bad signature, untrusted or revoked signer, outside the RFC 5280 profile): never to be accepted in any failure mode. */
  | { status: 'unknown'; errors: string[]; invalid?: boolean };

export interface CrlCheckArgs {
  /** Signers being validated further up the recursion (a CRL issuer whose own CRL it signs). */
  validating?: ReadonlySet<CertInfo>;
  cert: CertInfo;
  /** The certificate's issuer on the validated path. */
  issuer: CertInfo;
  crls: ParsedCrl[];
  at: Date;
  /** An expired CRL stays usable until nextUpdate + gracePeriodMs. */
  gracePeriodMs: number;
  /** Other certificates that may sign CRLs (separate CRL keys, indirect CRL issuers). */
  candidateSigners: CertInfo[];
  anchors: CertInfo[];
}

const signatureCache = new WeakMap<ParsedCrl, Map<string, boolean>>();

/** Verifies a CRL's signature with `signer`'s key; remembered per CRL and key (a large CRL is hashed once). */
export function verifyCrlSignature(crl: ParsedCrl, signer: CertInfo): boolean {
  let m = signatureCache.get(crl);
  if (!m) signatureCache.set(crl, (m = new Map()));
  const key = Buffer.from(signer.spkiDer).toString('base64');
  let ok = m.get(key);
  if (ok === undefined) {
    ok = verifySignature(crl.tbs, crl.signatureAlgorithmOid, crl.signatureValue, signer.publicKey, crl.signatureAlgorithmParams);
    m.set(key, ok);
  }
  return ok;
}

function generalNamesMatch(a: GeneralName[], b: GeneralName[]): boolean {
  return a.some((x) => b.some((y) => (x.type === 'dn' && y.type === 'dn' ? namesEqual(x.der, y.der) : x.type === y.type && 'value' in x && 'value' in y && x.value === y.value)));
}

/** Name ::= SEQUENCE OF RDN, with one more RDN appended (nameRelativeToCRLIssuer). */
function appendRdn(nameDer: Uint8Array, rdn: Uint8Array): GeneralName {
  const lenBytes = nameDer[1]! & 0x80 ? (nameDer[1]! & 0x7f) + 1 : 1;
  const body = Buffer.concat([nameDer.subarray(1 + lenBytes), rdn]);
  const len = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  const der = new Uint8Array(Buffer.concat([Buffer.from([0x30, ...len]), body]));
  return { type: 'dn', der, text: '' };
}

function idpNames(crl: ParsedCrl, idp: IssuingDistributionPoint): GeneralName[] {
  return idp.nameRelativeToCrlIssuer ? [appendRdn(crl.issuerDer, idp.nameRelativeToCrlIssuer)] : idp.fullNames;
}

function dpNames(cert: CertInfo, dp: DistributionPoint): GeneralName[] {
  if (!dp.nameRelativeToCrlIssuer) return dp.fullNames;
  const base = dp.crlIssuer?.find((n) => n.type === 'dn');
  return [appendRdn(base && base.type === 'dn' ? base.der : cert.issuerDer, dp.nameRelativeToCrlIssuer)];
}

/** RFC 5280 6.3.3 (b): is this complete CRL in scope for this certificate and distribution point? Returns the interim reasons mask, or why not. */
function scope(cert: CertInfo, dp: DistributionPoint, crl: ParsedCrl): number | string {
  if (dp.crlIssuer) {
    if (!crl.idp?.indirectCRL) return `CRL from ${crl.issuer} is not an indirect CRL, but the distribution point names a cRLIssuer`;
    if (!dp.crlIssuer.some((n) => n.type === 'dn' && namesEqual(n.der, crl.issuerDer))) return `CRL issuer ${crl.issuer} is not the distribution point's cRLIssuer`;
  } else if (!namesEqual(crl.issuerDer, cert.issuerDer)) {
    return `CRL issuer ${crl.issuer} is not the certificate issuer ${cert.issuer}`;
  }
  const idp = crl.idp;
  if (idp) {
    const names = idpNames(crl, idp);
    if (names.length) {
      const mine = dpNames(cert, dp);
      const against = mine.length ? mine : (dp.crlIssuer ?? []);
      if (!generalNamesMatch(names, against)) return `CRL from ${crl.issuer} covers another distribution point`;
    }
    if (idp.onlyContainsUserCerts && cert.isCA) return `CRL from ${crl.issuer} covers only end-entity certificates`;
    if (idp.onlyContainsCACerts && !cert.isCA) return `CRL from ${crl.issuer} covers only CA certificates`;
    if (idp.onlyContainsAttributeCerts) return `CRL from ${crl.issuer} covers only attribute certificates`;
  }
  // Bit 0 ("unused") carries no reason; masks are compared on bits 1-8 only.
  return (idp?.onlySomeReasons ?? ALL_REASONS) & (dp.reasons ?? ALL_REASONS) & ALL_REASONS;
}

function fresh(crl: ParsedCrl, at: Date, graceMs: number): string | undefined {
  if (crl.thisUpdate.getTime() > at.getTime() + 5 * 60_000) return `CRL from ${crl.issuer} is not valid until ${crl.thisUpdate.toISOString()}`;
  if (crl.nextUpdate && at.getTime() > crl.nextUpdate.getTime() + graceMs) return `CRL from ${crl.issuer} expired at ${crl.nextUpdate.toISOString()} (nextUpdate)`;
  return undefined;
}

/**
 * RFC 5280 6.3.3 (f): the key that signed the CRL, validated. The certificate's own issuer
 * (already on the validated path) may sign its CRLs; any other signer must carry the same
 * name, be allowed to sign CRLs, chain to the same trust anchor, and not be revoked itself.
 */
function findSigner(crl: ParsedCrl, args: CrlCheckArgs, depth: number): CertInfo | { error: string; invalid: boolean } {
  const { issuer, candidateSigners, anchors, at } = args;
  const seen = new Set<CertInfo>();
  const errors: string[] = [];
  for (const c of [issuer, ...candidateSigners, ...anchors]) {
    if (seen.has(c) || !namesEqual(c.subjectDer, crl.issuerDer)) continue;
    seen.add(c);
    if (c.keyUsage && !c.keyUsage.has('cRLSign')) {
      errors.push(`${c.subject} may not sign CRLs (keyUsage without cRLSign)`);
      continue;
    }
    if (!verifyCrlSignature(crl, c)) {
      errors.push(`the CRL signature does not verify with the key of ${c.subject}`);
      continue;
    }
    if (c === issuer || anchors.includes(c)) return c;
    // A cRLIssuer whose own status comes from the CRL it signs: its path was validated by the caller.
    if (args.validating?.has(c)) return c;
    const why = validateSigner(c, args, depth);
    if (why) errors.push(why);
    else return c;
  }
  return errors.length ? { error: errors.join('; '), invalid: true } : { error: `no certificate of the CRL issuer ${crl.issuer} is known`, invalid: false };
}

/** Chains a separate CRL signer to a trust anchor and checks that it is valid and not revoked. */
function validateSigner(signer: CertInfo, args: CrlCheckArgs, depth: number): string | undefined {
  if (depth > 3) return `CRL signer ${signer.subject}: too deep`;
  if (args.at < signer.notBefore || args.at > signer.notAfter) return `CRL signer ${signer.subject} is not valid at ${args.at.toISOString()}`;
  const profile = certificateProfileProblem(signer);
  if (profile) return `CRL signer ${profile}`;
  const pool = [...args.anchors, args.issuer, ...args.candidateSigners];
  const parent = pool.find((p) => p !== signer && isIssuedBy(signer, p));
  if (!parent) return `CRL signer ${signer.subject} does not chain to a trusted CA`;
  if (!args.anchors.includes(parent) && validateSigner(parent, args, depth + 1)) return `CRL signer ${signer.subject} does not chain to a trusted CA`;
  const status = evaluate({ ...args, cert: signer, issuer: parent, validating: new Set([...(args.validating ?? []), signer]) }, depth + 1);
  if (status.status === 'revoked') return `CRL signer ${signer.subject} is revoked (${status.reason})`;
  if (status.status === 'unknown') return `CRL signer ${signer.subject} has no known revocation status: ${status.errors.join('; ')}`;
  return undefined;
}

function sameScope(a: IssuingDistributionPoint | undefined, b: IssuingDistributionPoint | undefined): boolean {
  if (!a || !b) return !a && !b;
  return (
    a.onlyContainsUserCerts === b.onlyContainsUserCerts &&
    a.onlyContainsCACerts === b.onlyContainsCACerts &&
    a.onlyContainsAttributeCerts === b.onlyContainsAttributeCerts &&
    a.indirectCRL === b.indirectCRL &&
    a.onlySomeReasons === b.onlySomeReasons &&
    a.fullNames.length === b.fullNames.length &&
    (a.fullNames.length === 0 || generalNamesMatch(a.fullNames, b.fullNames))
  );
}

/** RFC 5280 6.3.3 (c), (d): a usable delta CRL for this complete CRL, newest first. */
function pickDelta(base: ParsedCrl, signer: CertInfo, args: CrlCheckArgs): ParsedCrl | undefined {
  if (base.crlNumber === undefined) return undefined;
  let best: ParsedCrl | undefined;
  for (const d of args.crls) {
    if (d.deltaCrlIndicator === undefined || d === base) continue;
    if (!namesEqual(d.issuerDer, base.issuerDer) || !sameScope(d.idp, base.idp)) continue;
    if (d.deltaCrlIndicator > base.crlNumber) continue; // its base is newer than our complete CRL
    if (d.crlNumber !== undefined && d.crlNumber <= base.crlNumber) continue; // older than the complete CRL: adds nothing
    if (d.profileError || fresh(d, args.at, args.gracePeriodMs) || !verifyCrlSignature(d, signer)) continue;
    if (!best || (d.crlNumber ?? 0n) > (best.crlNumber ?? 0n)) best = d;
  }
  return best;
}

function evaluate(args: CrlCheckArgs, depth: number): CrlCheckResult {
  const { cert, at, gracePeriodMs } = args;
  const dps: DistributionPoint[] = cert.crlDistributionPoints.length ? cert.crlDistributionPoints : [{ fullNames: [] }];
  const complete = args.crls.filter((c) => c.deltaCrlIndicator === undefined);
  const errors: string[] = [];
  let reasons = 0;
  let coveredBy = '';
  let invalid = false;
  for (const dp of dps) {
    for (const crl of complete) {
      if (reasons === ALL_REASONS) break;
      const interim = scope(cert, dp, crl);
      if (typeof interim === 'string') {
        errors.push(interim);
        continue;
      }
      if ((interim & ~reasons) === 0) continue;
      // A CRL outside the RFC 5280 profile is refused like one with a bad signature: it may
      // never make a check pass, in any failure mode (OCSP may still answer).
      if (crl.profileError) {
        errors.push(`${crl.profileError.message} (${crl.profileError.code})`);
        invalid = true;
        continue;
      }
      const stale = fresh(crl, at, gracePeriodMs);
      if (stale) {
        errors.push(stale);
        continue;
      }
      const signer = findSigner(crl, args, depth);
      if ('error' in signer) {
        errors.push(signer.error);
        invalid ||= signer.invalid;
        continue;
      }
      const delta = pickDelta(crl, signer, args);
      const fromDelta = delta?.lookup(cert.serial, cert.issuerDer);
      const entry = fromDelta ?? crl.lookup(cert.serial, cert.issuerDer);
      if (entry && entry.reasonCode !== REMOVE_FROM_CRL) {
        return { status: 'revoked', reason: REASON_NAMES[entry.reasonCode ?? 0] ?? `reason ${entry.reasonCode}`, revokedAt: entry.revokedAt, crlIssuer: crl.issuer };
      }
      reasons |= interim;
      coveredBy = crl.issuer;
    }
  }
  if (reasons === ALL_REASONS) return { status: 'good', crlIssuer: coveredBy };
  if (errors.length === 0) errors.push(complete.length ? 'the CRLs at hand do not cover every revocation reason for this certificate' : 'no complete CRL is available for this certificate');
  return { status: 'unknown', errors: [...new Set(errors)], ...(invalid ? { invalid } : {}) };
}

/**
 * The revocation status of `cert` from the CRLs at hand, as RFC 5280 section 6.3 defines it:
 * scope by issuer, cRLIssuer and issuing distribution point; reasons masks; delta CRLs over
 * their base; freshness with a grace period; the CRL profile (see crl/profile.ts); the CRL signer
 * verified (a bad signature is never "good"). `unknown` when the CRLs cannot decide.
 */
export function checkCertificateWithCrls(args: CrlCheckArgs): CrlCheckResult {
  return evaluate(args, 0);
}
