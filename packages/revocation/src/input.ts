import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { parseCertificate, type CertInfo } from './cert/parse.js';
import { RevocationError } from './errors.js';

/** A certificate as callers have it: DER bytes, PEM text (one or more blocks), Node's X509Certificate or PeerCertificate. */
export type CertificateInput = Uint8Array | string | X509Certificate | PeerCertificate;

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function expand(input: CertificateInput): Uint8Array[] {
  if (input instanceof X509Certificate) return [new Uint8Array(input.raw)];
  if (input instanceof Uint8Array) {
    if (input[0] === 0x2d) return expand(Buffer.from(input).toString('latin1'));
    return [input];
  }
  if (typeof input === 'string') {
    const blocks = input.match(PEM);
    if (!blocks) throw new RevocationError('ERR_REVOCATION_INPUT', 'a string certificate must be PEM (-----BEGIN CERTIFICATE-----)');
    return blocks.map((b) => new Uint8Array(Buffer.from(b.replace(/-----[^-]+-----|\s/g, ''), 'base64')));
  }
  if (input && typeof input === 'object' && 'raw' in input && input.raw) {
    // getPeerCertificate(true): walk issuerCertificate until it repeats (the root points to itself).
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    let cur: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = input as PeerCertificate & { issuerCertificate?: PeerCertificate };
    while (cur?.raw && !seen.has(cur.fingerprint256) && out.length < 16) {
      seen.add(cur.fingerprint256);
      out.push(new Uint8Array(cur.raw));
      cur = cur.issuerCertificate as typeof cur;
    }
    return out;
  }
  throw new RevocationError('ERR_REVOCATION_INPUT', 'unsupported certificate input; give DER bytes, PEM text, an X509Certificate or a PeerCertificate');
}

/**
 * Parsed certificates by DER, most recently used kept: a server checks the same intermediates
 * (and often the same leaves) on every handshake. Each entry owns a copy of its DER, so a caller
 * reusing its buffer cannot change a cached certificate.
 */
export class ParsedCertificateCache {
  readonly #map = new Map<string, CertInfo>();
  /** The last lookup's answer per DER object (weak: no buffer is kept alive by it). */
  readonly #byObject = new WeakMap<Uint8Array, { key: string; info: CertInfo }>();
  /** Lookups answered from the cache, and parses; for tests and metrics. */
  hits = 0;
  misses = 0;

  /** @param maxEntries default 256 (a few hundred KB). */
  constructor(readonly maxEntries = 256) {}

  get(der: Uint8Array): CertInfo {
    // Callers (the authenticator) hand in the same DER object on every connection: found by
    // identity and confirmed byte for byte against the cached copy (a reused, rewritten buffer
    // misses), which skips building and hashing a latin1 key of the whole certificate.
    const seen = this.#byObject.get(der);
    if (seen && seen.info.der.length === der.length && Buffer.compare(seen.info.der, der) === 0 && this.#map.get(seen.key) === seen.info) {
      this.hits++;
      this.#map.delete(seen.key); // the key string keeps its hash: no rehash of the DER
      this.#map.set(seen.key, seen.info);
      return seen.info;
    }
    const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
    const cached = this.#map.get(key);
    if (cached) {
      this.hits++;
      this.#map.delete(key);
      this.#map.set(key, cached);
      this.#byObject.set(der, { key, info: cached });
      return cached;
    }
    this.misses++;
    const info = parseCertificate(new Uint8Array(der)); // throws before anything is cached
    this.#map.set(key, info);
    this.#byObject.set(der, { key, info });
    while (this.#map.size > this.maxEntries) this.#map.delete(this.#map.keys().next().value!);
    return info;
  }

  get size(): number {
    return this.#map.size;
  }
}

/**
 * The chain as CertInfo, leaf first. With `cache`, certificates seen before are not parsed again
 * (the same CertInfo object is returned: treat it as read-only).
 */
export function normalizeChain(chain: CertificateInput[] | CertificateInput, cache?: ParsedCertificateCache): CertInfo[] {
  const list = Array.isArray(chain) ? chain : [chain];
  // The common case (DER bytes, one certificate each) without the intermediate arrays of expand().
  if (cache && list.length > 0 && list.every((c) => c instanceof Uint8Array && c[0] !== 0x2d)) return list.map((d) => cache.get(d as Uint8Array));
  const ders = list.flatMap(expand);
  if (ders.length === 0) throw new RevocationError('ERR_REVOCATION_INPUT', 'the chain is empty');
  return ders.map((d) => (cache ? cache.get(d) : parseCertificate(d)));
}
