import { certificateProfileProblem, type CertInfo } from '../cert/parse.js';
import { isIssuedBy } from '../cert/verify.js';
import { checkCertificateWithCrls, type CrlCheckResult } from '../crl/evaluate.js';
import type { ParsedCrl } from '../crl/parse.js';

export interface PathResult {
  valid: boolean;
  /** Leaf first, the trust anchor last. */
  path: CertInfo[];
  errors: string[];
  /** Revocation result of each certificate below the anchor, leaf first. */
  revocation: CrlCheckResult[];
}

/** Builds the path from `leaf` to one of `anchors` through `pool`, by issuer name and signature. */
export function buildPath(leaf: CertInfo, pool: CertInfo[], anchors: CertInfo[], maxDepth = 10): { path: CertInfo[]; anchor?: CertInfo } {
  const path = [leaf];
  let current = leaf;
  for (let i = 0; i < maxDepth; i++) {
    const anchor = anchors.find((a) => isIssuedBy(current, a));
    if (anchor) return { path: [...path, anchor], anchor };
    const next = pool.find((p) => !path.includes(p) && p.isCA && isIssuedBy(current, p));
    if (!next) return { path };
    path.push(next);
    current = next;
  }
  return { path };
}

/**
 * Basic RFC 5280 path validation with revocation checking of every certificate below the
 * anchor from the given CRLs: signatures, validity at `at`, CA constraints on issuers
 * (basicConstraints cA, keyCertSign, path length), unknown critical extensions. Policy
 * processing and name constraints are outside its scope (a TLS stack did them already;
 * chainConstraintProblem in constraints.ts evaluates name constraints for chains that had no handshake).
 */
export function validatePath(opts: { leaf: CertInfo; pool: CertInfo[]; anchors: CertInfo[]; at: Date; crls: ParsedCrl[]; gracePeriodMs?: number }): PathResult {
  const { path, anchor } = buildPath(opts.leaf, opts.pool, opts.anchors);
  const errors: string[] = [];
  if (!anchor) return { valid: false, path, errors: [`${path[path.length - 1]!.subject}: no issuer chains to a trust anchor`], revocation: [] };
  const below = path.slice(0, -1);
  below.forEach((c, i) => {
    if (opts.at < c.notBefore) errors.push(`${c.subject} is not valid before ${c.notBefore.toISOString()}`);
    if (opts.at > c.notAfter) errors.push(`${c.subject} expired at ${c.notAfter.toISOString()}`);
    const profile = certificateProfileProblem(c);
    if (profile) errors.push(profile);
    if (i > 0) {
      if (!c.isCA) errors.push(`${c.subject} issues certificates but is not a CA`);
      if (c.keyUsage && !c.keyUsage.has('keyCertSign')) errors.push(`${c.subject} issues certificates without keyCertSign`);
      if (c.pathLen !== undefined && c.pathLen < i - 1) errors.push(`${c.subject}: path length constraint exceeded`);
    }
  });
  const revocation = below.map((cert, i) =>
    checkCertificateWithCrls({ cert, issuer: path[i + 1]!, crls: opts.crls, at: opts.at, gracePeriodMs: opts.gracePeriodMs ?? 0, candidateSigners: opts.pool, anchors: opts.anchors }),
  );
  revocation.forEach((r, i) => {
    if (r.status === 'revoked') errors.push(`${below[i]!.subject} is revoked (${r.reason})`);
    if (r.status === 'unknown') errors.push(`${below[i]!.subject}: revocation status unknown: ${r.errors.join('; ')}`);
  });
  return { valid: errors.length === 0, path, errors, revocation };
}
