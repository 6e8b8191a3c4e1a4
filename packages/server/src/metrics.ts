import { Counter, Gauge, Histogram, Registry } from 'prom-client';
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
  readonly handshakes: Counter<'listener' | 'outcome' | 'reason' | 'client_certificate'>;
  /** `method` is `mtls`, `basic`, `jwt` or `none` (what the client tried); `outcome` `ok` or `failed`; `reason` a fixed category. */
  readonly authentications: Counter<'listener' | 'method' | 'outcome' | 'reason'>;
  readonly revocationChecks: Counter<'method' | 'status' | 'cache'>;
  readonly revocationLatency: Histogram;
  readonly revocationFetch: Histogram<'kind' | 'outcome'>;
  /** Requests whose forwarded headers came from a peer outside `http.trustedProxies` and were removed (SPEC.md section 7). */
  readonly forwardedUntrusted: Counter<'listener'>;
  /** Connections closed before serving anything by the PROXY protocol (`reason`: `untrusted`, `invalid`, `timeout`). */
  readonly proxyProtocolRefused: Counter<'listener' | 'reason'>;
  /** Requests by `listener` and `worker` (the worker's index, 0 … threads.count-1; SPEC.md section 8). */
  readonly httpRequests: Counter<'listener' | 'worker'>;
  readonly #worker: string;

  /** @param opts.worker this process's worker index (default 0, a single-process server). */
  constructor(opts: { now?: () => Date; worker?: number } = {}) {
    this.#now = opts.now ?? (() => new Date());
    this.#worker = String(opts.worker ?? 0);
    const registers = [this.registry];
    this.httpRequests = new Counter({ name: 'harper_tls_http_requests_total', help: 'HTTP requests by listener and worker', labelNames: ['listener', 'worker'], registers });
    this.handshakes = new Counter({ name: 'harper_tls_handshakes_total', help: 'TLS handshakes by listener, outcome and reason', labelNames: ['listener', 'outcome', 'reason', 'client_certificate'], registers });
    this.authentications = new Counter({ name: 'harper_tls_authentications_total', help: 'Authentication outcomes by method and reason', labelNames: ['listener', 'method', 'outcome', 'reason'], registers });
    this.revocationChecks = new Counter({ name: 'harper_tls_revocation_checks_total', help: 'Per-certificate revocation results by method, status and cache (hit, miss, stale, none)', labelNames: ['method', 'status', 'cache'], registers });
    this.revocationLatency = new Histogram({ name: 'harper_tls_revocation_check_seconds', help: 'Time of a whole-chain revocation check', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers });
    this.revocationFetch = new Histogram({ name: 'harper_tls_revocation_fetch_seconds', help: 'CRL downloads and OCSP requests: time to the response headers', labelNames: ['kind', 'outcome'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.forwardedUntrusted = new Counter({ name: 'harper_tls_forwarded_untrusted_total', help: 'Requests with forwarded headers (client certificate, X-Forwarded-*, Forwarded, X-Real-IP) from a peer outside http.trustedProxies; the headers were removed', labelNames: ['listener'], registers });
    this.proxyProtocolRefused = new Counter({ name: 'harper_tls_proxy_protocol_refused_total', help: 'Connections closed for their PROXY protocol header: from an untrusted peer, malformed, or late', labelNames: ['listener', 'reason'], registers });
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

  /** Counts every request of `server` (one bound child per listener: no label hashing per request). */
  countRequests(server: { on(event: 'request', fn: () => void): unknown } | undefined, listener: string): void {
    const child = this.httpRequests.labels({ listener, worker: this.#worker });
    server?.on('request', () => child.inc());
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
