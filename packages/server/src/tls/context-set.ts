import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { createHash, type X509Certificate } from 'node:crypto';
import type { LoadedTlsEntry } from './material.js';
import { selectByHost } from './sni.js';
import { CaBundleCache, EMPTY_CA_BUNDLE, type CaBundle } from './ca-bundle.js';
import { DEFAULT_CIPHERS, DEFAULT_SESSION_TIMEOUT, MIN_TLS_VERSION, SECURE_OPTIONS } from './defaults.js';

/** What one listener serves: its entries (first = default) and extra trusted client CAs. */
export interface TlsMaterial {
  /** Run-time entries first (they override configured names), then the configured ones. The last configured one is not special: index `defaultIndex` is the default. */
  entries: LoadedTlsEntry[];
  defaultIndex: number;
  /** Client CAs added at run time, trusted on every entry of this listener; default none. */
  extraBundle?: CaBundle;
}

/** One built SNI context and what it trusts. */
interface Built {
  context: SecureContext;
  options: SecureContextOptions;
  /** Entry CAs + run-time CAs: one shared, frozen bundle per distinct set. */
  trust: CaBundle;
}

/**
 * The secure contexts of one listener, rebuilt atomically when certificates change.
 * Contexts are built once per change, not per handshake; `SNICallback` only looks them up.
 * Trusted-CA sets are interned (`CaBundleCache`): SNI entries that trust the same CAs share one
 * parsed bundle and one `ca` string; Node still copies it into each context's OpenSSL store.
 */
export class TlsContextSet {
  #material!: TlsMaterial;
  #built: Built[] = [];
  #listeners = new Set<(opts: SecureContextOptions) => void>();
  readonly #bundles: CaBundleCache;
  readonly #label: string;
  readonly #sessionIds = new Map<string, string>();

  /**
   * @param label Names the listener family (`https`, `operations-api`). It goes into the TLS
   *   session id context with the trusted CAs, so a session made on one API (or under one client
   *   CA policy) is never resumed on another.
   * @param opts.bundles the CA cache shared with other listeners (the registry's); default a private one.
   */
  constructor(material: TlsMaterial, label = 'default', opts: { bundles?: CaBundleCache } = {}) {
    this.#label = label;
    this.#bundles = opts.bundles ?? new CaBundleCache();
    this.update(material);
  }

  get material(): TlsMaterial {
    return this.#material;
  }

  /** Options of the default context, for `createServer` and `setSecureContext`. */
  defaultOptions(): SecureContextOptions {
    return this.#built[this.#material.defaultIndex]!.options;
  }

  /** Replaces the material; throws (leaving the old contexts in place) when a context cannot be built. */
  update(material: TlsMaterial): void {
    const extra = material.extraBundle ?? EMPTY_CA_BUNDLE;
    // One session lifetime per listener (the handshake starts on the default context before SNI
    // picks another): every context gets the default entry's, so no entry can differ.
    const sessionTimeout = material.entries[material.defaultIndex]?.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT;
    const built = material.entries.map((e): Built => {
      const trust = this.#bundles.union(e.caBundle, extra);
      const options = this.#optionsFor(e, trust, sessionTimeout);
      return { context: createSecureContext(options), options, trust };
    });
    this.#material = material;
    this.#built = built;
    const opts = this.defaultOptions();
    for (const fn of this.#listeners) fn(opts);
  }

  /** Every CA bundle the current contexts reference (for `CaBundleCache.retain`). */
  bundlesInUse(): CaBundle[] {
    const out: CaBundle[] = [];
    for (const b of this.#built) out.push(b.trust);
    for (const e of this.#material.entries) out.push(e.caBundle);
    if (this.#material.extraBundle) out.push(this.#material.extraBundle);
    return out;
  }

  /** Called with the new default options after every update (the server's setSecureContext). */
  onUpdate(fn: (opts: SecureContextOptions) => void): void {
    this.#listeners.add(fn);
  }

  /** Node's SNICallback: the context for `servername`, or the default one. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const index = this.indexFor(servername);
    cb(null, this.#built[index]!.context);
  };

  indexFor(servername: string | undefined): number {
    return selectByHost(this.#material.entries, servername) ?? this.#material.defaultIndex;
  }

  /** The client CAs trusted for a connection that asked for `servername`: a shared, frozen array (do not copy per connection). */
  trustedCas(servername: string | undefined): readonly X509Certificate[] {
    return this.#built[this.indexFor(servername)]!.trust.certs;
  }

  /** The bundle a context trusts (tests: contexts with the same CAs share one instance). */
  trustFor(servername: string | undefined): CaBundle {
    return this.#built[this.indexFor(servername)]!.trust;
  }

  /**
   * Every context: Mozilla "intermediate" ciphers unless the entry names its own, TLS 1.2 or
   * later, no renegotiation, the listener's session lifetime (see tls/defaults.ts).
   */
  #optionsFor(entry: LoadedTlsEntry, trust: CaBundle, sessionTimeout: number): SecureContextOptions {
    // OpenSSL caps the context at 32 bytes; a digest of the label and CA policy fits and separates.
    let sessionIdContext = this.#sessionIds.get(trust.id);
    if (!sessionIdContext) {
      sessionIdContext = createHash('sha256').update(this.#label).update('\0').update(trust.id).digest('hex').slice(0, 32);
      this.#sessionIds.set(trust.id, sessionIdContext);
    }
    return {
      sessionIdContext,
      cert: entry.certPem,
      key: entry.keyPem,
      ...(trust.pems.length ? { ca: trust.pem } : {}),
      ciphers: entry.ciphers ?? DEFAULT_CIPHERS,
      minVersion: MIN_TLS_VERSION,
      secureOptions: SECURE_OPTIONS,
      sessionTimeout,
    };
  }
}
