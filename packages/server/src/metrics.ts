import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { X509Certificate } from 'node:crypto';

const DAY_MS = 86_400_000;

/**
 * Prometheus metrics of one server (its own registry, no global state): handshakes,
 * authentication outcomes, revocation cache behaviour and certificate expiry.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly handshakes = new Counter({ name: 'harper_tls_handshakes_total', help: 'TLS handshakes by listener and outcome', labelNames: ['listener', 'outcome'] as const, registers: [this.registry] });
  readonly authentications = new Counter({ name: 'harper_tls_authentications_total', help: 'Authentication outcomes by method and reason', labelNames: ['listener', 'method', 'outcome', 'reason'] as const, registers: [this.registry] });
  readonly revocationChecks = new Counter({ name: 'harper_tls_revocation_checks_total', help: 'Per-certificate revocation results by method, status and cache', labelNames: ['method', 'status', 'cache'] as const, registers: [this.registry] });
  readonly revocationLatency = new Histogram({ name: 'harper_tls_revocation_check_seconds', help: 'Time of a whole-chain revocation check', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers: [this.registry] });
  readonly certificateExpiry = new Gauge({ name: 'harper_tls_certificate_expiry_days', help: 'Days until a served or trusted certificate expires', labelNames: ['name', 'use', 'kind', 'subject', 'serial'] as const, registers: [this.registry] });

  /** Resets the expiry gauges to the certificates in use now. */
  setCertificates(certs: Array<{ name: string; use: string; kind: string; cert: X509Certificate }>, now: Date): void {
    this.certificateExpiry.reset();
    for (const c of certs) {
      const days = (new Date(c.cert.validTo).getTime() - now.getTime()) / DAY_MS;
      this.certificateExpiry.set({ name: c.name, use: c.use, kind: c.kind, subject: c.cert.subject.replace(/\n/g, ', '), serial: c.cert.serialNumber.toLowerCase() }, Math.round(days * 100) / 100);
    }
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
