import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { TlsEntry } from '@harper-tls/config';
import type { Logger } from '../logger.js';
import { buildEntry, loadConfiguredEntry, pemReader, splitCertificates, type LoadedTlsEntry } from '../tls/material.js';
import { TlsContextSet, type TlsMaterial } from '../tls/context-set.js';
import { CaBundleCache } from '../tls/ca-bundle.js';
import { describeCertificate, validateAddCertificate, type CertificateInfo, type CertificateUse, type StoredCertificate } from './validate.js';
import { ServerError } from '../errors.js';
import type { RuntimeKeyStore } from './key-files.js';
import type { KeySealer } from '../cluster/key-sealer.js';

/** The persistent side: the server's lmdb `certificates` database, or a Map in tests. */
export interface CertificateStore {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
  list(prefix: string): Promise<Array<[string, string]>>;
}

interface Api {
  use: CertificateUse;
  configured: TlsEntry[];
  loaded: LoadedTlsEntry[];
  contexts?: TlsContextSet;
}

const PREFIX = 'cert:';

/** A run-time certificate in memory: the key itself, the reference of its file and (cluster) its sealed copy. */
type RuntimeCertificate = StoredCertificate & { privateKeyRef?: string; sealedPrivateKey?: string };
/**
 * What the database holds: never the private key in clear, only the reference to its file and,
 * in a cluster, the key sealed under the local CA (cluster/key-sealer.ts) for the other nodes.
 */
type StoredRecord = Omit<StoredCertificate, 'privateKey'> & { privateKeyRef?: string; sealedPrivateKey?: string; /** before keys moved to files */ privateKey?: string };

/** Whether `keyPem` is the private key of the leaf in `certPem` (false for anything unreadable). */
function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

const toRecord = ({ privateKey: _key, ...rest }: RuntimeCertificate): StoredRecord => rest;

/**
 * Certificates of both APIs: the configured ones (files, reloaded when they change) and the
 * ones added at run time (stored, applied to every listener of their `uses` at once through
 * `setSecureContext` and the SNI contexts — no restart, open connections keep theirs).
 */
export class CertificateRegistry {
  readonly #store: CertificateStore;
  readonly #keys: RuntimeKeyStore;
  readonly #sealer?: KeySealer;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #keysLock: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly #apis: Record<CertificateUse, Api>;
  #runtime = new Map<string, RuntimeCertificate>();
  /** What the contexts were last built from: `#runtime`, or the map an add or remove is storing. */
  #applied = this.#runtime;
  /**
   * add, remove and reloadStored one at a time: each builds its map from `#runtime` and assigns
   * it after awaiting the store, so two at once would lose one's change (a removed CA trusted again).
   */
  #mutating: Promise<unknown> = Promise.resolve();
  /** Trusted-CA sets of both APIs, parsed once per distinct set and shared by every SNI context. */
  readonly #bundles: CaBundleCache;

  /**
   * @param opts.keys where the private keys of run-time certificates live (`fileKeyStore` under
   *   `<ROOTPATH>/keys/runtime`); the store keeps only their references.
   * @param opts.bundles CA cache (tests inject one with a counting parser); default a new one.
   * @param opts.sealer with `cluster` only: records also carry their key sealed by it, so every
   *   node can serve the certificate (it writes its own key file from the sealed copy).
   * @param opts.keysLock with several workers on one key directory: a node-wide lock
   *   (`peers.exclusive`) around an add's key file and record, and a start's listing and sweep,
   *   so a starting worker never sweeps the key of a record another worker is committing.
   */
  constructor(opts: { store: CertificateStore; keys: RuntimeKeyStore; sealer?: KeySealer; logger: Logger; appTls: TlsEntry[]; operationsTls: TlsEntry[]; now?: () => Date; bundles?: CaBundleCache; keysLock?: <T>(fn: () => Promise<T>) => Promise<T> }) {
    this.#bundles = opts.bundles ?? new CaBundleCache();
    this.#store = opts.store;
    this.#keys = opts.keys;
    this.#sealer = opts.sealer;
    this.#logger = opts.logger;
    this.#now = opts.now ?? (() => new Date());
    this.#keysLock = opts.keysLock ?? ((fn) => fn());
    this.#apis = {
      https: { use: 'https', configured: opts.appTls, loaded: [] },
      'operations-api': { use: 'operations-api', configured: opts.operationsTls, loaded: [] },
    };
  }

  /** Loads configured files and stored certificates and builds the contexts. Throws on bad configured material. */
  async init(): Promise<void> {
    const read = pemReader();
    for (const api of Object.values(this.#apis)) api.loaded = this.#loadEntries(api.configured, api.use, read);
    // Under the key lock: a key file another worker has written but whose record it has not yet
    // committed is not in this listing, and must not be swept as unreferenced.
    const swept = await this.#keysLock(async () => {
      for (const [, json] of await this.#store.list(PREFIX)) {
        try {
          const record = JSON.parse(json) as StoredRecord;
          this.#runtime.set(record.name, await this.#fromRecord(record));
        } catch (err) {
          this.#logger.error({ err: (err as Error).message }, 'a stored certificate could not be read; skipped');
        }
      }
      // Keys no record references: left by a crash between a key file and its record, or after a
      // replacement or removal. Only after every record was read, so a readable record keeps its key.
      const referenced = new Set([...this.#runtime.values()].flatMap((c) => (c.privateKeyRef ? [c.privateKeyRef] : [])));
      return this.#keys.sweep(referenced);
    });
    if (swept.length) this.#logger.info({ files: swept }, 'removed private keys of run-time certificates that no record uses');
    for (const api of Object.values(this.#apis)) api.contexts = new TlsContextSet(this.#material(api), api.use, { bundles: this.#bundles });
    this.#retainBundles();
  }

  contexts(use: CertificateUse): TlsContextSet {
    const c = this.#apis[use].contexts;
    if (!c) throw new Error('CertificateRegistry.init() was not called');
    return c;
  }

  /**
   * add_certificate: validates, applies, stores. Replaces a runtime certificate of the same name.
   * A private key goes to its own file first, then the record that references it is committed,
   * then the replaced key's file is removed: a crash at any point leaves every record with its
   * own key (and at most an unreferenced key file, removed at the next start).
   */
  async add(body: Record<string, unknown>): Promise<{ name: string; replaced: boolean }> {
    const cert: RuntimeCertificate = validateAddCertificate(body, this.#now());
    return this.#serial(() => this.#add(cert));
  }

  async #add(cert: RuntimeCertificate): Promise<{ name: string; replaced: boolean }> {
    // Build the contexts before storing, so a certificate Node cannot use is refused up front.
    const next = new Map(this.#runtime).set(cert.name, cert);
    this.#apply(next);
    const previous = this.#runtime.get(cert.name);
    try {
      // The key file and its record under the key lock: no worker starting meanwhile sweeps the file.
      await this.#keysLock(async () => {
        if (cert.privateKey) cert.privateKeyRef = await this.#keys.write(cert.name, cert.privateKey);
        if (cert.privateKey && this.#sealer) cert.sealedPrivateKey = this.#sealer.seal(cert.name, cert.privateKey);
        await this.#store.put(PREFIX + cert.name, JSON.stringify(toRecord(cert)));
      });
    } catch (err) {
      this.#apply(this.#runtime); // not stored, so not served: what is listed is what survives a restart
      if (cert.privateKeyRef && cert.privateKeyRef !== previous?.privateKeyRef) await this.#keys.remove(cert.privateKeyRef);
      throw err;
    }
    if (previous?.privateKeyRef && previous.privateKeyRef !== cert.privateKeyRef) await this.#keys.remove(previous.privateKeyRef);
    this.#runtime = next;
    this.#logger.info({ name: cert.name, isAuthority: cert.isAuthority, uses: cert.uses, hosts: cert.hosts }, 'certificate added');
    return { name: cert.name, replaced: previous !== undefined };
  }

  remove(name: string): Promise<void> {
    return this.#serial(() => this.#remove(name));
  }

  async #remove(name: string): Promise<void> {
    const previous = this.#runtime.get(name);
    if (!previous) {
      throw new ServerError('ERR_SERVER_CERTIFICATE', `no certificate named "${name}" was added at run time (configured certificates are changed in the config file)`);
    }
    const next = new Map(this.#runtime);
    next.delete(name);
    this.#apply(next);
    try {
      await this.#store.remove(PREFIX + name);
    } catch (err) {
      this.#apply(this.#runtime);
      throw err;
    }
    if (previous.privateKeyRef) await this.#keys.remove(previous.privateKeyRef);
    this.#runtime = next;
    this.#logger.info({ name }, 'certificate removed');
  }

  /** A stored record with its key read back; a record from before keys moved to files is moved over. */
  async #fromRecord(record: StoredRecord): Promise<RuntimeCertificate> {
    if (record.privateKeyRef) return this.#withKey(record as StoredRecord & { privateKeyRef: string });
    if (!record.privateKey) return record as RuntimeCertificate;
    const privateKeyRef = await this.#keys.write(record.name, record.privateKey);
    const moved: RuntimeCertificate = { ...record, privateKeyRef, ...(this.#sealer ? { sealedPrivateKey: this.#sealer.seal(record.name, record.privateKey) } : {}) };
    await this.#store.put(PREFIX + record.name, JSON.stringify(toRecord(moved)));
    this.#logger.info({ name: record.name }, 'moved the private key of a run-time certificate out of the database into its own file');
    return moved;
  }

  /**
   * A record with its private key: this node's key file, or else (cluster) the record's sealed
   * copy, opened, checked against the certificate and written to this node's own 0600 file under
   * the record's reference (content-named, so the same name on every node).
   */
  async #withKey(record: StoredRecord & { privateKeyRef: string }): Promise<RuntimeCertificate> {
    const { privateKey: _clear, ...rest } = record;
    let fromFile: string | undefined;
    let missing: Error | undefined;
    try {
      fromFile = this.#keys.read(record.privateKeyRef);
    } catch (err) {
      missing = err as Error;
    }
    if (fromFile !== undefined) {
      if (!keyMatches(record.certificate, fromFile)) throw new ServerError('ERR_SERVER_CERTIFICATE', `its key file ${record.privateKeyRef} does not match its certificate`);
      return { ...rest, privateKey: fromFile };
    }
    if (!record.sealedPrivateKey || !this.#sealer) {
      throw new ServerError('ERR_SERVER_CERTIFICATE', `its private key is not on this node (${missing?.message}) and the record carries no sealed copy: it stays on the node that received it (add the certificate again to share it)`);
    }
    const pem = this.#sealer.open(record.name, record.sealedPrivateKey);
    if (!keyMatches(record.certificate, pem)) throw new ServerError('ERR_SERVER_CERTIFICATE', 'its shared private key does not match its certificate');
    const ref = await this.#keys.write(record.name, pem);
    if (ref !== record.privateKeyRef) {
      if (![...this.#runtime.values()].some((c) => c.privateKeyRef === ref)) await this.#keys.remove(ref);
      throw new ServerError('ERR_SERVER_CERTIFICATE', `its shared private key is not the one its record references (${record.privateKeyRef})`);
    }
    this.#logger.info({ name: record.name, file: ref }, 'wrote the shared private key of a run-time certificate added on another node to this node\'s key file');
    return { ...rest, privateKey: pem };
  }

  /**
   * Re-reads the stored run-time certificates (another worker or node added or removed one:
   * SPEC.md sections 8 and 10) and applies them (all or nothing). A record whose private key file this node does not hold is
   * served from its sealed copy (cluster); one without a sealed copy, or whose copy does not
   * open, is skipped with a log line and never served; authorities apply. Key files of
   * certificates removed or replaced elsewhere are removed here too.
   */
  reloadStored(): Promise<void> {
    // One at a time, and never during an add or remove: a reload that read the store before another finished must not undo it.
    return this.#serial(() => this.#reload());
  }

  /** Runs `fn` after every add, remove and reload before it has finished (failed or not). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#mutating.then(fn);
    this.#mutating = run.catch(() => undefined);
    return run;
  }

  async #reload(): Promise<void> {
    // Key files are removed only for certificates this reload saw served and no longer finds:
    // never a key an add_certificate running meanwhile has just written.
    const previous = this.#runtime;
    const next = new Map<string, RuntimeCertificate>();
    for (const [, json] of await this.#store.list(PREFIX)) {
      let record: StoredRecord;
      try {
        record = JSON.parse(json) as StoredRecord;
      } catch {
        continue;
      }
      const mine = this.#runtime.get(record.name);
      if (mine && JSON.stringify(toRecord(mine)) === JSON.stringify(record)) {
        next.set(record.name, mine);
        continue;
      }
      try {
        next.set(record.name, record.privateKeyRef ? await this.#withKey(record as StoredRecord & { privateKeyRef: string }) : (record as RuntimeCertificate));
      } catch (err) {
        if (record.sealedPrivateKey) this.#logger.error({ name: record.name, err: (err as Error).message }, 'a run-time certificate added on another node is not served here: its shared private key was refused');
        else this.#logger.warn({ name: record.name, err: (err as Error).message }, 'a run-time certificate added on another node is not served here: its private key stays on that node');
      }
    }
    this.#apply(next);
    this.#runtime = next;
    const kept = new Set([...next.values()].flatMap((c) => (c.privateKeyRef ? [c.privateKeyRef] : [])));
    for (const c of previous.values()) if (c.privateKeyRef && !kept.has(c.privateKeyRef)) await this.#keys.remove(c.privateKeyRef);
  }

  list(): CertificateInfo[] {
    const out: CertificateInfo[] = [];
    for (const api of Object.values(this.#apis)) {
      for (const e of api.loaded) {
        out.push(describeCertificate(e.certPem, { name: e.name, is_authority: false, hosts: e.hosts, uses: [api.use], source: 'config' }));
        e.caBundle.pems.forEach((pem, i) => out.push(describeCertificate(pem, { name: `${e.name}.ca${i}`, is_authority: true, hosts: [], uses: [api.use], source: 'config' })));
      }
    }
    for (const c of this.#runtime.values()) {
      out.push(describeCertificate(c.certificate, { name: c.name, is_authority: c.isAuthority, hosts: c.hosts, uses: c.uses, source: 'runtime' }));
    }
    return out;
  }

  /** Every served and trusted certificate, for expiry gauges and warnings. */
  allCertificates(): Array<{ name: string; use: CertificateUse; kind: 'served' | 'trusted'; cert: X509Certificate }> {
    const out: Array<{ name: string; use: CertificateUse; kind: 'served' | 'trusted'; cert: X509Certificate }> = [];
    for (const api of Object.values(this.#apis)) {
      const m = api.contexts?.material;
      if (!m) continue;
      for (const e of m.entries) {
        out.push({ name: e.name, use: api.use, kind: 'served', cert: e.leaf });
        e.caBundle.certs.forEach((cert, i) => out.push({ name: `${e.name}.ca${i}`, use: api.use, kind: 'trusted', cert }));
      }
      (m.extraBundle?.certs ?? []).forEach((cert, i) => out.push({ name: `runtime.ca${i}`, use: api.use, kind: 'trusted', cert }));
    }
    return out;
  }

  /**
   * Re-reads the configured files of both APIs. A file that fails to load leaves the last good
   * material serving and is logged; never a listener without a certificate.
   */
  reloadConfigured(): { ok: boolean; error?: string } {
    const fresh: Partial<Record<CertificateUse, LoadedTlsEntry[]>> = {};
    try {
      const read = pemReader();
      for (const api of Object.values(this.#apis)) fresh[api.use] = this.#loadEntries(api.configured, api.use, read);
    } catch (err) {
      const error = (err as Error).message;
      this.#logger.error({ err: error }, 'configured certificate files changed but cannot be used; the previous certificates keep serving');
      return { ok: false, error };
    }
    const previous = Object.values(this.#apis).map((api) => api.loaded);
    try {
      for (const api of Object.values(this.#apis)) api.loaded = fresh[api.use]!;
      // What is served now, an add or remove being stored included (it falls back to `#runtime` if it fails).
      this.#apply(this.#applied);
    } catch (err) {
      Object.values(this.#apis).forEach((api, i) => (api.loaded = previous[i]!));
      const error = (err as Error).message;
      this.#logger.error({ err: error }, 'configured certificate files changed but cannot be used; the previous certificates keep serving');
      return { ok: false, error };
    }
    this.#logger.info('configured certificate files reloaded');
    return { ok: true };
  }

  /** Builds every context for `runtime`; all or nothing. */
  #apply(runtime: Map<string, RuntimeCertificate>): void {
    const apis = Object.values(this.#apis);
    const materials = apis.map((api) => this.#material(api, runtime));
    const previous = apis.map((api) => api.contexts?.material);
    try {
      apis.forEach((api, i) => api.contexts?.update(materials[i]!));
    } catch (err) {
      apis.forEach((api, i) => previous[i] && api.contexts?.update(previous[i]!));
      throw new ServerError('ERR_SERVER_CERTIFICATE', `the certificate cannot be used by TLS: ${(err as Error).message}`);
    }
    this.#applied = runtime;
    this.#retainBundles();
  }

  /** Drops CA bundles no context uses any more (after a successful rebuild). */
  #retainBundles(): void {
    this.#bundles.retain(Object.values(this.#apis).flatMap((api) => api.contexts?.bundlesInUse() ?? []));
  }

  #loadEntries(entries: TlsEntry[], use: CertificateUse, read: ReturnType<typeof pemReader>): LoadedTlsEntry[] {
    return entries.map((e, i) => loadConfiguredEntry(e, `${use === 'https' ? 'tls' : 'operationsApi.tls'}${entries.length > 1 ? `[${i}]` : ''}`, { read, bundles: this.#bundles }));
  }

  #material(api: Api, runtime = this.#runtime): TlsMaterial {
    const mine = [...runtime.values()].filter((c) => c.uses.includes(api.use));
    const runtimeEntries = mine
      .filter((c) => !c.isAuthority && c.privateKey)
      .map((c) => buildEntry({ certPem: c.certificate, keyPem: c.privateKey!, hosts: c.hosts, name: c.name }, this.#bundles));
    // Run-time server certificates trust the configured CAs of the default entry too (the same bundle).
    const defaultEntry = api.loaded[0]!;
    for (const e of runtimeEntries) e.caBundle = defaultEntry.caBundle;
    const caPems = mine.filter((c) => c.isAuthority).flatMap((c) => splitCertificates(c.certificate));
    const extraBundle = this.#bundles.fromPems(caPems, 'run-time authorities');
    return {
      entries: [...runtimeEntries, ...api.loaded],
      defaultIndex: runtimeEntries.length,
      extraBundle,
    };
  }
}
