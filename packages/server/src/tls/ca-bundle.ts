import { createHash, X509Certificate } from 'node:crypto';
import { ServerError } from '../errors.js';

/**
 * A set of CA certificates trusted for client certificates, parsed once and shared (frozen) by
 * every SNI context and listener that trusts the same set.
 */
export interface CaBundle {
  /** SHA-256 (hex) of the PEM blocks in order: equal sets have equal ids. */
  readonly id: string;
  readonly pems: readonly string[];
  readonly certs: readonly X509Certificate[];
  /** The blocks joined, handed to `tls.createSecureContext({ ca })` as one string (one native call per context). */
  readonly pem: string;
}

/** Parses the PEM blocks of one bundle; `what` names it in errors. Injectable for tests. */
export type CaParser = (pems: readonly string[], what: string) => X509Certificate[];

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The CERTIFICATE blocks of a PEM text, in order. */
export function splitCertificates(pem: string): string[] {
  return pem.match(PEM_CERT) ?? [];
}

export const parseCaPems: CaParser = (pems, what) =>
  pems.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ServerError('ERR_SERVER_TLS_MATERIAL', `${what}: certificate #${i + 1} is not valid (${(err as Error).message})`);
    }
  });

function bundleOf(id: string, pems: readonly string[], certs: readonly X509Certificate[]): CaBundle {
  return Object.freeze({ id, pems: Object.freeze([...pems]), certs: Object.freeze([...certs]), pem: pems.join('\n') });
}

function idOf(pems: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of pems) h.update(p).update('\n');
  return h.digest('hex');
}

export const EMPTY_CA_BUNDLE: CaBundle = bundleOf(idOf([]), [], []);

/**
 * Interns CA bundles by content: a CA file referenced by 100 SNI entries (and by the Operations
 * API, which inherits `tls`) is parsed once, and every context shares its `X509Certificate`s.
 * Bundles not referenced after a rebuild are dropped by `retain()`.
 */
export class CaBundleCache {
  readonly #parse: CaParser;
  readonly #bundles = new Map<string, CaBundle>();
  readonly #unions = new Map<string, CaBundle>();

  /** @param opts.parse default `parseCaPems` (`new X509Certificate` per block). */
  constructor(opts: { parse?: CaParser } = {}) {
    this.#parse = opts.parse ?? parseCaPems;
  }

  /** The bundle of a PEM text (every CERTIFICATE block, in order); parsed only the first time this set is seen. */
  fromPemText(text: string, what: string): CaBundle {
    return this.fromPems(splitCertificates(text), what);
  }

  fromPems(pems: readonly string[], what: string): CaBundle {
    if (pems.length === 0) return EMPTY_CA_BUNDLE;
    const id = idOf(pems);
    let b = this.#bundles.get(id);
    if (!b) {
      b = bundleOf(id, pems, this.#parse(pems, what));
      this.#bundles.set(id, b);
    }
    return b;
  }

  /** `a` then `b` (an entry's CAs + the run-time CAs), interned; never parses. */
  union(a: CaBundle, b: CaBundle): CaBundle {
    if (b.pems.length === 0) return a;
    if (a.pems.length === 0) return b;
    const key = `${a.id}+${b.id}`;
    let u = this.#unions.get(key);
    if (!u) {
      const pems = [...a.pems, ...b.pems];
      u = bundleOf(idOf(pems), pems, [...a.certs, ...b.certs]);
      this.#unions.set(key, u);
    }
    return u;
  }

  /** Drops every bundle not in `inUse` (called after a successful rebuild). */
  retain(inUse: Iterable<CaBundle>): void {
    const keep = new Set(inUse);
    for (const [id, b] of this.#bundles) if (!keep.has(b)) this.#bundles.delete(id);
    for (const [key, u] of this.#unions) if (!keep.has(u)) this.#unions.delete(key);
  }

  /** Number of parsed and union bundles held (for tests). */
  get size(): number {
    return this.#bundles.size + this.#unions.size;
  }
}
