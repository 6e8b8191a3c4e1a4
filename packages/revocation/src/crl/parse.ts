import { EntryIndex } from './entries.js';
import { readHeader, type CrlHeader } from './header.js';
import { withIndex, type CrlIndex } from './lookup.js';
import { asMalformed, malformed } from './malformed.js';
import { profileError } from './profile.js';
import type { ParsedCrl } from './types.js';

export type { IssuingDistributionPoint, ParsedCrl, RevokedEntry } from './types.js';

/** The async parser works in chunks of this many entries and yields once a slice has run this long. */
const CHUNK = 2_000;
const SLICE_MS = 4;

/** The index each parsed CRL was built with, when its entries break no profile rule (so it may be stored and adopted). */
const indexes = new WeakMap<ParsedCrl, CrlIndex>();

/** The index of a CRL this module parsed, for storing it next to the DER; undefined for a CRL with no entries or a profile problem in them. */
export function indexOf(crl: ParsedCrl): CrlIndex | undefined {
  return indexes.get(crl);
}

function finish(header: CrlHeader, index: EntryIndex | undefined): ParsedCrl {
  const { crl } = header;
  if (index?.problem) crl.profileError ??= profileError(crl.issuer, index.problem);
  if (!index) return { ...crl, size: 0, lookup: () => undefined };
  index.buildStep(Number.MAX_SAFE_INTEGER);
  // Only what a lookup needs is kept: the offsets array goes unless entries have their own issuers.
  const idx: CrlIndex = { table: index.table!, count: index.count, issuers: index.issuers };
  if (index.issuerIndex) {
    idx.offsets = index.offsets.subarray(0, index.count);
    idx.issuerIndex = index.issuerIndex.subarray(0, index.count);
  }
  const parsed = withIndex(header, idx);
  if (!index.problem) indexes.set(parsed, idx);
  return parsed;
}

/** The fields of a CRL and its revokedCertificates element, without touching the entries. */
export function readCrlHeader(der: Uint8Array): CrlHeader {
  return asMalformed(() => readHeader(der));
}

function toDer(input: Uint8Array): Uint8Array {
  if (input[0] !== 0x2d) return input; // DER starts with 0x30; PEM with "-"
  const m = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(Buffer.from(input).toString('latin1'));
  if (!m) malformed('PEM input without a "BEGIN X509 CRL" block');
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/**
 * Parses a CRL (DER or PEM) straight over its bytes: the header is decoded, the entries are
 * only located (an offset each in a typed array) and indexed by a hash of their serial, so a
 * million-entry CRL costs a few MB beyond its own bytes and a lookup is a hash probe.
 * Entry details (date, reason) are decoded on a hit.
 * @throws RevocationError ERR_REVOCATION_MALFORMED_CRL, never anything else
 */
export function parseCrl(input: Uint8Array): ParsedCrl {
  return asMalformed(() => {
    const der = toDer(input);
    const header = readHeader(der);
    if (!header.revoked) return finish(header, undefined);
    const index = new EntryIndex(der, header.revoked, header.crl.idp?.indirectCRL === true, header.crl.issuerDer, header.v1);
    index.step(Number.MAX_SAFE_INTEGER);
    return finish(header, index);
  });
}

/**
 * Same as parseCrl, in slices of about 4 ms with a yield to the event loop between them,
 * so loading a large CRL does not stall TLS handshakes on the same thread.
 */
export async function parseCrlAsync(input: Uint8Array): Promise<ParsedCrl> {
  const der = asMalformed(() => toDer(input));
  const header = asMalformed(() => readHeader(der));
  if (!header.revoked) return finish(header, undefined);
  const index = new EntryIndex(der, header.revoked, header.crl.idp?.indirectCRL === true, header.crl.issuerDer, header.v1);
  const sliced = async (work: () => boolean): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      let done = false;
      while (!(done = asMalformed(work)) && performance.now() - t0 < SLICE_MS);
      if (done) return;
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  await sliced(() => index.step(CHUNK));
  await sliced(() => index.buildStep(CHUNK));
  return asMalformed(() => finish(header, index));
}
