import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { createHash, type X509Certificate } from 'node:crypto';
import type { LoadedTlsEntry } from './material.js';
import { selectByHost } from './sni.js';

/** What one listener serves: its entries (first = default) and extra trusted client CAs. */
export interface TlsMaterial {
  /** Run-time entries first (they override configured names), then the configured ones. The last configured one is not special: index `defaultIndex` is the default. */
  entries: LoadedTlsEntry[];
  defaultIndex: number;
  /** Client CAs added at run time (PEM), trusted on every entry of this listener. */
  extraCaPems: string[];
  extraCas: X509Certificate[];
}

/**
 * The secure contexts of one listener, rebuilt atomically when certificates change.
 * Contexts are built once per change, not per handshake; `SNICallback` only looks them up.
 */
export class TlsContextSet {
  #material!: TlsMaterial;
  #contexts: SecureContext[] = [];
  #listeners = new Set<(opts: SecureContextOptions) => void>();

  readonly #label: string;

  /**
   * @param label Names the listener family (`https`, `operations-api`). It goes into the TLS
   *   session id context with the trusted CAs, so a session made on one API (or under one client
   *   CA policy) is never resumed on another.
   */
  constructor(material: TlsMaterial, label = 'default') {
    this.#label = label;
    this.update(material);
  }

  get material(): TlsMaterial {
    return this.#material;
  }

  /** Options of the default context, for `createServer` and `setSecureContext`. */
  defaultOptions(): SecureContextOptions {
    return this.#optionsFor(this.#material.entries[this.#material.defaultIndex]!);
  }

  /** Replaces the material; throws (leaving the old contexts in place) when a context cannot be built. */
  update(material: TlsMaterial): void {
    const previous = this.#material;
    this.#material = material;
    try {
      const contexts = material.entries.map((e) => createSecureContext(this.#optionsFor(e)));
      this.#contexts = contexts;
    } catch (err) {
      if (previous) this.#material = previous;
      throw err;
    }
    const opts = this.defaultOptions();
    for (const fn of this.#listeners) fn(opts);
  }

  /** Called with the new default options after every update (the server's setSecureContext). */
  onUpdate(fn: (opts: SecureContextOptions) => void): void {
    this.#listeners.add(fn);
  }

  /** Node's SNICallback: the context for `servername`, or the default one. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const index = this.indexFor(servername);
    cb(null, this.#contexts[index]);
  };

  indexFor(servername: string | undefined): number {
    return selectByHost(this.#material.entries, servername) ?? this.#material.defaultIndex;
  }

  /** The client CAs trusted for a connection that asked for `servername`. */
  trustedCas(servername: string | undefined): X509Certificate[] {
    const entry = this.#material.entries[this.indexFor(servername)]!;
    return [...entry.cas, ...this.#material.extraCas];
  }

  #optionsFor(entry: LoadedTlsEntry): SecureContextOptions {
    const ca = [...entry.caPems, ...this.#material.extraCaPems];
    // OpenSSL caps the context at 32 bytes; a digest of the label and CA policy fits and separates.
    const sessionIdContext = createHash('sha256').update(this.#label).update('\0').update(ca.join('\n')).digest('hex').slice(0, 32);
    return {
      sessionIdContext,
      cert: entry.certPem,
      key: entry.keyPem,
      ...(ca.length ? { ca } : {}),
      ...(entry.ciphers ? { ciphers: entry.ciphers } : {}),
      minVersion: 'TLSv1.2',
    };
  }
}
