import { Counter, Gauge, Histogram, Registry, type CounterConfiguration, type LabelValues } from 'prom-client';
import type { X509Certificate } from 'node:crypto';

const DAY_MS = 86_400_000;

/** A certificate the expiry gauge reports on. */
export interface MeteredCertificate {
  name: string;
  use: string;
  kind: 'served' | 'trusted';
  cert: X509Certificate;
}

/** What is known of a CRL the revocation checker holds (from its download or the cache store). */
export interface CrlInfo {
  thisUpdate: Date;
  nextUpdate?: Date;
}

type Pending = { labels: Record<string, string>; n: number };

/**
 * A prom-client Counter whose `inc(labels)` (by 1, every label given as a string) adds to a plain
 * number per label set and hands the sums to prom-client when the counter is read (`get()`, a
 * scrape): prom-client validates and hashes the labels on every `inc` (~0.3 µs in a loop, several
 * times that per request under load), this looks them up in nested Maps. A label set is still
 * validated, and its series created, by prom-client the first time it is seen. Every other call
 * goes to prom-client unchanged; reads and `reset()` see exactly the counts of a plain Counter.
 */
export class BatchedCounter<T extends string> extends Counter<T> {
  // Not #private: prom-client's constructor calls reset() before subclass fields exist.
  private _names: readonly string[] = [];
  private _pending: Map<string, unknown> | undefined;
  private _touched: Pending[] | undefined;
  private _plain: ((labels?: unknown, value?: number) => void) | undefined;

  constructor(config: Omit<CounterConfiguration<T>, 'collect' | 'enableExemplars'>) {
    let self: BatchedCounter<T> | undefined;
    super({ ...config, collect: () => self?._flush() });
    self = this;
    this._names = [...(config.labelNames ?? [])];
    this._pending = new Map();
    this._touched = [];
    // prom-client installs `inc` on the instance (incWithoutExemplar); keep that as the plain path.
    const plain = (this as unknown as { inc: (labels?: unknown, value?: number) => void }).inc.bind(this);
    this._plain = plain;
    (this as unknown as { inc: (labels?: unknown, value?: number) => void }).inc = (labels?: unknown, value?: number) => this._inc(labels, value);
  }

  private _inc(labels: unknown, value: number | undefined): void {
    const plain = this._plain!;
    if (value !== undefined || labels === undefined || labels === null || typeof labels !== 'object' || this._names.length === 0) return plain(labels, value);
    const given = labels as Record<string, unknown>;
    let count = 0;
    for (const _ in given) count++;
    if (count !== this._names.length) return plain(labels);
    let level = this._pending!;
    for (let i = 0; i < this._names.length; i++) {
      const v = given[this._names[i]!];
      if (typeof v !== 'string') return plain(labels);
      let next = level.get(v);
      if (next === undefined) {
        if (i < this._names.length - 1) level.set(v, (next = new Map()));
        else {
          plain(labels, 0); // validates the label set and creates its series now, as prom-client would
          level.set(v, (next = { labels: { ...(labels as Record<string, string>) }, n: 0 } satisfies Pending));
        }
      }
      level = next as Map<string, unknown>;
    }
    const entry = level as unknown as Pending;
    if (entry.n++ === 0) this._touched!.push(entry);
  }

  private _flush(): void {
    if (!this._touched) return;
    for (const e of this._touched) {
      this._plain!(e.labels, e.n);
      e.n = 0;
    }
    this._touched.length = 0;
  }

  override reset(): void {
    if (this._touched) {
      for (const e of this._touched) e.n = 0;
      this._touched.length = 0;
      this._pending = new Map();
    }
    super.reset();
  }

  override remove(...values: unknown[]): void {
    this._flush();
    super.remove(...(values as string[]));
  }
}

/**
 * Prometheus metrics of one server (its own registry, no global state): handshakes,
 * authentication outcomes, revocation cache behaviour and fetch latency, CRL freshness and
 * certificate expiry. Time-dependent gauges are computed at scrape time with the injected clock.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #now: () => Date;
  #certificates: () => MeteredCertificate[] = () => [];
  readonly #crls = new Map<string, CrlInfo>();

  /** `listener`, `outcome` (`ok` or `failed`), `reason` (OpenSSL error code of a failed handshake, `''` when ok), `client_certificate` (`yes`/`no`). */
  readonly handshakes: BatchedCounter<'listener' | 'outcome' | 'reason' | 'client_certificate'>;
  /** `method` is `mtls`, `basic`, `jwt` or `none` (what the client tried); `outcome` `ok` or `failed`; `reason` a fixed category. */
  readonly authentications: BatchedCounter<'listener' | 'method' | 'outcome' | 'reason'>;
  readonly revocationChecks: BatchedCounter<'method' | 'status' | 'cache'>;
  readonly revocationLatency: Histogram;
  readonly revocationFetch: Histogram<'kind' | 'outcome'>;

  constructor(opts: { now?: () => Date } = {}) {
    this.#now = opts.now ?? (() => new Date());
    const registers = [this.registry];
    this.handshakes = new BatchedCounter({ name: 'harper_tls_handshakes_total', help: 'TLS handshakes by listener, outcome and reason', labelNames: ['listener', 'outcome', 'reason', 'client_certificate'], registers });
    this.authentications = new BatchedCounter({ name: 'harper_tls_authentications_total', help: 'Authentication outcomes by method and reason', labelNames: ['listener', 'method', 'outcome', 'reason'], registers });
    this.revocationChecks = new BatchedCounter({ name: 'harper_tls_revocation_checks_total', help: 'Per-certificate revocation results by method, status and cache (hit, miss, stale, none)', labelNames: ['method', 'status', 'cache'], registers });
    this.revocationLatency = new Histogram({ name: 'harper_tls_revocation_check_seconds', help: 'Time of a whole-chain revocation check', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers });
    this.revocationFetch = new Histogram({ name: 'harper_tls_revocation_fetch_seconds', help: 'CRL downloads and OCSP requests: time to the response headers', labelNames: ['kind', 'outcome'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    const metrics = this;
    new Gauge({
      name: 'harper_tls_certificate_expiry_days',
      help: 'Days until a served or trusted certificate expires (negative once expired)',
      labelNames: ['name', 'use', 'kind', 'subject', 'serial'],
      registers,
      collect() {
        this.reset();
        const now = metrics.#now().getTime();
        for (const c of metrics.#certificates()) {
          const days = (new Date(c.cert.validTo).getTime() - now) / DAY_MS;
          this.set({ name: c.name, use: c.use, kind: c.kind, subject: c.cert.subject.replace(/\n/g, ', '), serial: c.cert.serialNumber.toLowerCase() }, Math.round(days * 100) / 100);
        }
      },
    });
    new Gauge({
      name: 'harper_tls_crl_age_seconds',
      help: 'Seconds since the thisUpdate of each cached CRL',
      labelNames: ['url'],
      registers,
      collect() {
        this.reset();
        const now = metrics.#now().getTime();
        for (const [url, crl] of metrics.#crls) this.set({ url }, Math.round((now - crl.thisUpdate.getTime()) / 1000));
      },
    });
    new Gauge({
      name: 'harper_tls_crl_next_update_seconds',
      help: 'Seconds until the nextUpdate of each cached CRL (negative when overdue)',
      labelNames: ['url'],
      registers,
      collect() {
        this.reset();
        const now = metrics.#now().getTime();
        for (const [url, crl] of metrics.#crls) if (crl.nextUpdate) this.set({ url }, Math.round((crl.nextUpdate.getTime() - now) / 1000));
      },
    });
  }

  /** The certificates the expiry gauge reports, read at every scrape. */
  watchCertificates(source: () => MeteredCertificate[]): void {
    this.#certificates = source;
  }

  recordCrl(url: string, info: CrlInfo): void {
    this.#crls.set(url, info);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Bounded `reason` label values from @harper-tls/mtls-auth's free-text reasons (no names or subjects in labels). */
export function authReasonCategory(reason: string | undefined): string {
  if (!reason) return 'other';
  if (/^wrong password/.test(reason)) return 'bad_credentials';
  if (/token$/.test(reason) || /^invalid or expired token/.test(reason)) return 'bad_token';
  if (/^token user/.test(reason)) return 'token_user_unknown_or_inactive';
  if (/^certificate user/.test(reason)) return 'certificate_user_unknown_or_inactive';
  if (/revocation|certificate evaluation failed/.test(reason)) return 'certificate_revoked_or_unverified';
  if (/^no credentials/.test(reason)) return 'no_credentials';
  if (/authorization|basic credentials|scheme/.test(reason)) return 'malformed_credentials';
  if (/no single readable CN|names no user|sanMapping/.test(reason)) return 'certificate_names_no_user';
  return 'untrusted_certificate';
}
