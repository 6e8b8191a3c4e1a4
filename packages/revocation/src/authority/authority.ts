import { timingSafeEqual } from 'node:crypto';
import type { CertInfo } from '../cert/parse.js';
import { normalizeChain, type CertificateInput, type ParsedCertificateCache } from '../input.js';
import { RevocationError } from '../errors.js';

/** What a CA's own records say of one of its certificates. */
export type AuthorityAnswer = { status: 'good' } | { status: 'revoked'; reason?: string; revokedAt?: Date };

/**
 * A CA whose own records are authoritative for the certificates it issued: the server's local CA.
 * For a certificate issued by `certificate` (same subject and key), `status` answers instead of
 * its CRL and OCSP, so a revocation applies at once rather than when a cached CRL is next
 * fetched. `undefined` (no record of that serial) falls back to CRL and OCSP as usual.
 */
export interface RevocationAuthority {
  certificate: CertificateInput;
  /** `serialHex`: lower case, no leading zeros. */
  status(serialHex: string): AuthorityAnswer | undefined | Promise<AuthorityAnswer | undefined>;
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && timingSafeEqual(a, b);

/** The authorities of a checker, matched to an issuer by subject name and public key. */
export class Authorities {
  readonly #list: Array<{ cert: CertInfo; status: RevocationAuthority['status'] }>;
  readonly #byIssuer = new WeakMap<CertInfo, RevocationAuthority['status'] | null>();

  constructor(authorities: RevocationAuthority[] | undefined, parsed: ParsedCertificateCache) {
    this.#list = (authorities ?? []).map((a, i) => {
      if (!a || typeof a.status !== 'function') throw new RevocationError('ERR_REVOCATION_INPUT', `authorities[${i}] needs a certificate and a status(serialHex) function`);
      return { cert: normalizeChain([a.certificate], parsed)[0]!, status: a.status.bind(a) };
    });
  }

  get size(): number {
    return this.#list.length;
  }

  /** The records that answer for certificates issued by `issuer`, if it is one of the authorities. */
  for(issuer: CertInfo): RevocationAuthority['status'] | undefined {
    if (this.#list.length === 0) return undefined;
    let hit = this.#byIssuer.get(issuer);
    if (hit === undefined) {
      hit = this.#list.find((a) => same(a.cert.subjectDer, issuer.subjectDer) && same(a.cert.spkiDer, issuer.spkiDer))?.status ?? null;
      this.#byIssuer.set(issuer, hit);
    }
    return hit ?? undefined;
  }
}
