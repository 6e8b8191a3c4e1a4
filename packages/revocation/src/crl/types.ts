import type { GeneralName } from '../cert/general-names.js';
import type { RevocationError } from '../errors.js';

/** IssuingDistributionPoint (RFC 5280 section 5.2.5), decoded. */
export interface IssuingDistributionPoint {
  fullNames: GeneralName[];
  nameRelativeToCrlIssuer?: Uint8Array;
  onlyContainsUserCerts: boolean;
  onlyContainsCACerts: boolean;
  onlySomeReasons?: number;
  indirectCRL: boolean;
  onlyContainsAttributeCerts: boolean;
}

export interface RevokedEntry {
  revokedAt: Date;
  /** CRLReason code (RFC 5280 section 5.3.1); undefined when the entry has none. */
  reasonCode?: number;
  invalidityDate?: Date;
}

export interface ParsedCrl {
  der: Uint8Array;
  /** The signed bytes (a view into `der`, not a copy). */
  tbs: Uint8Array;
  issuerDer: Uint8Array;
  issuer: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  /** The base CRL number, when this is a delta CRL. */
  deltaCrlIndicator?: bigint;
  idp?: IssuingDistributionPoint;
  aki?: Uint8Array;
  /**
   * Set when the CRL breaks the RFC 5280 profile in a way that makes it unusable (code
   * ERR_REVOCATION_CRL_PROFILE): an unknown critical CRL or entry extension, a critical flag on
   * an extension the RFC requires to be non-critical, a duplicate extension, or extensions in a
   * v1 CRL. The checker treats such a CRL like one with a bad signature. The first problem found.
   */
  profileError?: RevocationError;
  signatureAlgorithmOid: string;
  signatureAlgorithmParams?: Uint8Array;
  signatureValue: Uint8Array;
  /** Number of revoked entries. */
  size: number;
  /** The entry for `serial` (INTEGER content octets) of a certificate issued by `certIssuerDer`. */
  lookup(serial: Uint8Array, certIssuerDer: Uint8Array): RevokedEntry | undefined;
}
