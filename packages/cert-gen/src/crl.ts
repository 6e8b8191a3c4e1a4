import { bitString, explicit, extension, integer, integerFromHex, lengthBytes, seq, tlv, time, writeLength } from './der/write.js';
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
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function checkReason(reason: unknown): RevocationReason | undefined {
  if (reason === undefined) return undefined;
  if (typeof reason !== 'string' || !(reason in REVOCATION_REASONS)) invalid(`reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}; got "${String(reason)}"`);
  return reason as RevocationReason;
}

export interface RevokedEntry {
  serialHex: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

const REASON_EXT_HEADER = Buffer.from([0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01]); // SEQUENCE{ id-ce-cRLReasons, OCTET STRING { ENUMERATED x } }

/**
 * Writes the revokedCertificates SEQUENCE into one buffer in two passes (sizes, then bytes):
 * a million entries take a fraction of a second and no per-entry objects.
 *
 *   revokedCertificates SEQUENCE OF SEQUENCE {
 *     userCertificate CertificateSerialNumber, revocationDate Time,
 *     crlEntryExtensions Extensions OPTIONAL }   -- RFC 5280 section 5.1
 */
function revokedSequence(entries: RevokedEntry[]): Buffer | undefined {
  if (entries.length === 0) return undefined; // RFC 5280: absent, not empty
  const serials = entries.map((e) => integerFromHex(normalizeSerialHex(e.serialHex)));
  const times = new Map<number, Buffer>();
  const timeOf = (d: Date) => {
    let t = times.get(d.getTime());
    if (!t) times.set(d.getTime(), (t = time(d)));
    return t;
  };
  const sizes = new Uint32Array(entries.length);
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const body = serials[i]!.length + timeOf(e.revokedAt).length + (e.reason !== undefined ? 2 + REASON_EXT_HEADER.length + 1 : 0);
    sizes[i] = body;
    total += 1 + lengthBytes(body) + body;
  }
  const out = Buffer.allocUnsafe(1 + lengthBytes(total) + total);
  out[0] = 0x30;
  let pos = writeLength(out, 1, total);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    out[pos++] = 0x30;
    pos = writeLength(out, pos, sizes[i]!);
    out.set(serials[i]!, pos);
    pos += serials[i]!.length;
    const t = timeOf(e.revokedAt);
    out.set(t, pos);
    pos += t.length;
    if (e.reason !== undefined) {
      out[pos++] = 0x30; // crlEntryExtensions ::= SEQUENCE OF Extension
      out[pos++] = REASON_EXT_HEADER.length + 1;
      out.set(REASON_EXT_HEADER, pos);
      pos += REASON_EXT_HEADER.length;
      out[pos++] = REVOCATION_REASONS[e.reason];
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
  const entries = [...opts.revoked];
  for (const e of entries) {
    if (!(e.revokedAt instanceof Date) || Number.isNaN(e.revokedAt.getTime())) invalid(`revokedAt of serial ${e.serialHex} is not a date`);
    checkReason(e.reason);
  }
  const revoked = revokedSequence(entries);
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

