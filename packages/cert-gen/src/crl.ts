import { bitString, explicit, extension, integer, lengthBytes, seq, tlv, time, writeLength } from './der/write.js';
import { createSigner } from './signer.js';
import type { KeyAndCert } from './certificate.js';
import { invalid } from './errors.js';
import { normalizeSerialHex } from './serial.js';

/** CRLReason (RFC 5280 section 5.3.1), by name. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
/**
 * A reason a certificate can be revoked with: every CRLReason but removeFromCRL, which RFC 5280
 * section 5.3.1 allows only in delta CRLs, where it takes a certificate off the CRL (a CRL entry
 * with it says "not revoked": openssl and the revocation checker skip it).
 */
export type RevocationReason = Exclude<keyof typeof REVOCATION_REASONS, 'removeFromCRL'>;
const REVOKE_REASONS = Object.keys(REVOCATION_REASONS).filter((r) => r !== 'removeFromCRL');

export function checkReason(reason: unknown): RevocationReason | undefined {
  if (reason === undefined) return undefined;
  if (reason === 'removeFromCRL') invalid(`reason removeFromCRL does not revoke a certificate (RFC 5280 section 5.3.1: it is only for delta CRLs, where it takes a certificate off the CRL); use one of ${REVOKE_REASONS.join(', ')}`);
  if (typeof reason !== 'string' || !Object.hasOwn(REVOCATION_REASONS, reason)) invalid(`reason must be one of ${REVOKE_REASONS.join(', ')}; got "${String(reason)}"`);
  return reason as RevocationReason;
}

export interface RevokedEntry {
  serialHex: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

const REASON_EXT_HEADER = Buffer.from([0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01]); // SEQUENCE{ id-ce-cRLReasons, OCTET STRING { ENUMERATED x } }
const REASON_EXT_LENGTH = 2 + REASON_EXT_HEADER.length + 1; // crlEntryExtensions SEQUENCE header + the extension
const NO_REASON = 255;

/** A hex digit's value from its char code (0-9, a-f; input already validated). */
const nibble = (c: number): number => (c <= 0x39 ? c - 0x30 : c - 0x57);

/** Two decimal digits of `v` (0-99) at `pos`. */
function twoDigits(out: Buffer, pos: number, v: number): void {
  const tens = (v / 10) | 0;
  out[pos] = 0x30 + tens;
  out[pos + 1] = 0x30 + v - tens * 10;
}

/**
 * Writes Time (RFC 5280 section 4.1.2.5: UTCTime through 2049, GeneralizedTime otherwise) at
 * `pos`, digit by digit, and returns the new position.
 */
function writeTime(out: Buffer, pos: number, d: Date): number {
  const y = d.getUTCFullYear();
  if (y >= 1950 && y < 2050) {
    out[pos++] = 0x17;
    out[pos++] = 13;
  } else {
    out[pos++] = 0x18;
    out[pos++] = 15;
    twoDigits(out, pos, (y / 100) | 0);
    pos += 2;
  }
  twoDigits(out, pos, y % 100);
  twoDigits(out, pos + 2, d.getUTCMonth() + 1);
  twoDigits(out, pos + 4, d.getUTCDate());
  twoDigits(out, pos + 6, d.getUTCHours());
  twoDigits(out, pos + 8, d.getUTCMinutes());
  twoDigits(out, pos + 10, d.getUTCSeconds());
  out[pos + 12] = 0x5a; // Z
  return pos + 13;
}

/** Lower-case hex of 1 to 40 digits without a leading zero: the form randomSerialHex and normalizeSerialHex give. */
function isCanonicalSerial(hex: unknown): hex is string {
  if (typeof hex !== 'string' || hex.length === 0 || hex.length > 40 || hex.charCodeAt(0) === 0x30) return false;
  for (let i = 0; i < hex.length; i++) {
    const c = hex.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/**
 * Validates the entries and writes the revokedCertificates SEQUENCE into one buffer in two
 * passes (sizes, then bytes) with no per-entry objects, so a million entries take well under
 * a second:
 *
 *   revokedCertificates SEQUENCE OF SEQUENCE {
 *     userCertificate CertificateSerialNumber, revocationDate Time,
 *     crlEntryExtensions Extensions OPTIONAL }   -- RFC 5280 section 5.1
 */
function revokedSequence(entries: RevokedEntry[]): Buffer | undefined {
  if (entries.length === 0) return undefined; // RFC 5280: absent, not empty
  const n = entries.length;
  const serials: string[] = new Array(n);
  const times = new Float64Array(n); // whole seconds
  const reasons = new Uint8Array(n);
  const sizes = new Uint8Array(n); // entry body length; at most 23 + 17 + 16
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    // Serials we generate are already canonical; anything else (colons, 0x, case, zeros) is normalised.
    const hex = isCanonicalSerial(e.serialHex) ? e.serialHex : normalizeSerialHex(String(e.serialHex));
    const ms = e.revokedAt instanceof Date ? e.revokedAt.getTime() : Number.NaN;
    if (Number.isNaN(ms)) invalid(`revokedAt of serial ${e.serialHex} is not a date`);
    let reason = NO_REASON;
    if (e.reason !== undefined) {
      if (!Object.hasOwn(REVOCATION_REASONS, e.reason) || (e.reason as string) === 'removeFromCRL') checkReason(e.reason);
      reason = REVOCATION_REASONS[e.reason];
    }
    const y = e.revokedAt.getUTCFullYear();
    if (y < 1 || y > 9999) invalid(`revokedAt of serial ${e.serialHex} is outside the years 1 to 9999`);
    const magnitude = (hex.length + 1) >> 1;
    const pad = hex.length % 2 === 0 && nibble(hex.charCodeAt(0)) >= 8 ? 1 : 0;
    const body = 2 + magnitude + pad + (y >= 1950 && y < 2050 ? 15 : 17) + (reason === NO_REASON ? 0 : REASON_EXT_LENGTH);
    serials[i] = hex;
    times[i] = Math.floor(ms / 1000);
    reasons[i] = reason;
    sizes[i] = body;
    total += 2 + body; // body < 128: one length byte
  }
  const out = Buffer.allocUnsafe(1 + lengthBytes(total) + total);
  out[0] = 0x30;
  let pos = writeLength(out, 1, total);
  let lastSecond = Number.NaN;
  let lastTimeAt = 0;
  let lastTimeLength = 0;
  for (let i = 0; i < n; i++) {
    out[pos++] = 0x30;
    out[pos++] = sizes[i]!;
    // userCertificate INTEGER: 00 pad when the top bit is set; an odd digit count starts with a half byte
    const hex = serials[i]!;
    const odd = hex.length % 2;
    const pad = !odd && nibble(hex.charCodeAt(0)) >= 8 ? 1 : 0;
    out[pos++] = 0x02;
    out[pos++] = ((hex.length + 1) >> 1) + pad;
    if (pad) out[pos++] = 0;
    let c = 0;
    if (odd) out[pos++] = nibble(hex.charCodeAt(c++));
    for (; c < hex.length; c += 2) out[pos++] = (nibble(hex.charCodeAt(c)) << 4) | nibble(hex.charCodeAt(c + 1));
    // revocationDate: entries revoked in the same second (batch revocations) copy the previous bytes
    if (times[i] === lastSecond) {
      for (let k = 0; k < lastTimeLength; k++) out[pos++] = out[lastTimeAt + k]!;
    } else {
      lastSecond = times[i]!;
      lastTimeAt = pos;
      pos = writeTime(out, pos, entries[i]!.revokedAt);
      lastTimeLength = pos - lastTimeAt;
    }
    if (reasons[i] !== NO_REASON) {
      out[pos++] = 0x30; // crlEntryExtensions ::= SEQUENCE OF Extension
      out[pos++] = REASON_EXT_HEADER.length + 1;
      for (let k = 0; k < REASON_EXT_HEADER.length; k++) out[pos++] = REASON_EXT_HEADER[k]!; // a loop beats set() for 11 bytes
      out[pos++] = reasons[i]!;
    }
  }
  return out;
}

/**
 * A signed X.509 v2 CRL (DER) from `ca`:
 *
 *   CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version v2, signature, issuer Name, thisUpdate Time,
 *     nextUpdate Time, revokedCertificates ..., crlExtensions [0] EXPLICIT Extensions }
 *
 * with the CRL number and authority key identifier extensions, and a reason code per entry.
 * @param opts.thisUpdate default now
 */
export async function createCrl(opts: { ca: Pick<KeyAndCert, 'certificatePem' | 'privateKeyPem'>; revoked: Iterable<RevokedEntry>; crlNumber: bigint | number; thisUpdate?: Date; nextUpdate: Date }): Promise<Uint8Array> {
  const signer = createSigner(opts.ca);
  if (!signer.cert.ca) invalid('the CRL issuer certificate is not a CA');
  const thisUpdate = opts.thisUpdate ?? new Date();
  if (!(opts.nextUpdate instanceof Date) || opts.nextUpdate <= thisUpdate) invalid('nextUpdate must be a date after thisUpdate');
  if (BigInt(opts.crlNumber) < 0n) invalid('crlNumber must not be negative');
  const revoked = revokedSequence(Array.isArray(opts.revoked) ? opts.revoked : [...opts.revoked]);
  const extensions = explicit(
    0,
    seq(
      extension('2.5.29.35', seq(tlv(0x80, signer.keyId))), // authorityKeyIdentifier { keyIdentifier [0] }
      extension('2.5.29.20', integer(opts.crlNumber)), // cRLNumber
    ),
  );
  const tbs = seq(integer(1), signer.algorithm, signer.subjectDer, time(thisUpdate), time(opts.nextUpdate), ...(revoked ? [revoked] : []), extensions);
  return new Uint8Array(seq(tbs, signer.algorithm, bitString(signer.sign(tbs))));
}

