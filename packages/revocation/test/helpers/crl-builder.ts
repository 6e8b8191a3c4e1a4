import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { oid, octets, seq, tlv } from '../../src/der/writer.js';

/**
 * Builds CRLs byte by byte, for the profile cases no CA tool will produce (duplicate
 * extensions, a v1 CRL with extensions, critical flags the RFC forbids), signed with a real
 * ECDSA P-256 key so that `openssl verify -crl_check` judges them on their profile alone.
 *
 * CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }  -- RFC 5280 section 5.1
 */
export interface Ext {
  oid: string;
  critical?: boolean;
  /** The DER inside extnValue. */
  value: Uint8Array;
}
export interface Entry {
  /** Hex of the serial's content octets. */
  serial: string;
  exts?: Ext[];
}
export interface CrlSpec {
  /** DER of the issuer Name (the CA certificate's subject). */
  issuer: Uint8Array;
  /** Omit the version field (a v1 CRL). Default false (v2). */
  v1?: boolean;
  thisUpdate: Date;
  nextUpdate: Date;
  entries?: Entry[];
  exts?: Ext[];
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const int = (hex: string) => tlv(0x02, Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
const utc = (d: Date) => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`, 'latin1'));
export const generalized = (d: Date) => tlv(0x18, Buffer.from(`${d.toISOString().slice(0, 19).replace(/[-:T]/g, '')}Z`, 'latin1'));

function extensions(list: Ext[]): Buffer {
  return seq(...list.map((e) => seq(oid(e.oid), ...(e.critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), octets(e.value))));
}

/** Extension values (the DER inside extnValue) of the usual CRL and entry extensions. */
export const value = {
  crlNumber: (n: number) => int(n.toString(16)),
  /** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING } */
  aki: (keyId: Uint8Array) => seq(tlv(0x80, keyId)),
  /** CRLReason ::= ENUMERATED */
  reason: (code: number) => tlv(0x0a, Buffer.from([code])),
  invalidityDate: (d: Date) => generalized(d),
  /** A URI GeneralName list, as in freshestCRL (CRLDistributionPoints) or AIA caIssuers. */
  freshest: (uri: string) => seq(seq(tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from(uri)))))),
  aiaCaIssuers: (uri: string) => seq(seq(oid('1.3.6.1.5.5.7.48.2'), tlv(0x86, Buffer.from(uri)))),
  /** IssuerAltName ::= GeneralNames (one dNSName) */
  ian: (dns: string) => seq(tlv(0x82, Buffer.from(dns))),
  /** IssuingDistributionPoint with a fullName URI. */
  idp: (uri: string) => seq(tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from(uri))))),
  utf8: (s: string) => tlv(0x0c, Buffer.from(s)),
};

/** Signs the CRL described by `spec` with `key` (an EC P-256 private key, PEM or KeyObject); returns DER. */
export function buildCrl(spec: CrlSpec, key: KeyObject | string): Buffer {
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  const alg = seq(oid(ECDSA_SHA256));
  const entries = spec.entries?.length
    ? [seq(...spec.entries.map((e) => seq(int(e.serial), utc(spec.thisUpdate), ...(e.exts?.length ? [extensions(e.exts)] : []))))]
    : [];
  const tbs = seq(
    ...(spec.v1 ? [] : [int('01')]),
    alg,
    Buffer.from(spec.issuer),
    utc(spec.thisUpdate),
    utc(spec.nextUpdate),
    ...entries,
    ...(spec.exts?.length ? [tlv(0xa0, extensions(spec.exts))] : []),
  );
  const signature = sign('sha256', tbs, k);
  return seq(tbs, alg, tlv(0x03, Buffer.from([0]), signature));
}

/** PEM of a DER CRL (for `openssl verify -CRLfile`). */
export const crlPem = (der: Uint8Array) => `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END X509 CRL-----\n`;

/** RDNSequence with one CN. */
export const cnName = (cn: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));

/**
 * A certificate signed by `issuerKey` (EC P-256) with the given extensions, byte by byte (so it
 * may break the profile: duplicates, critical flags). TBSCertificate per RFC 5280 section 4.1.
 */
export function buildCert(spec: { serial: string; issuer: Uint8Array; subject: Uint8Array; spki: Uint8Array; notBefore: Date; notAfter: Date; exts: Ext[] }, issuerKey: KeyObject | string): Buffer {
  const k = typeof issuerKey === 'string' ? createPrivateKey(issuerKey) : issuerKey;
  const alg = seq(oid(ECDSA_SHA256));
  const tbs = seq(tlv(0xa0, int('02')), int(spec.serial), alg, Buffer.from(spec.issuer), seq(utc(spec.notBefore), utc(spec.notAfter)), Buffer.from(spec.subject), Buffer.from(spec.spki), tlv(0xa3, extensions(spec.exts)));
  return seq(tbs, alg, tlv(0x03, Buffer.from([0]), sign('sha256', tbs, k)));
}

export const certPem = (der: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
