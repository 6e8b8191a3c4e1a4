import type { OcspAnswer } from '../ocsp/response.js';

/** A change one process made to the revocation caches, for the others sharing its store. */
export type SharedRevocationEvent =
  /** A CRL was downloaded, verified to parse, and written to the store: read it from there. */
  | { kind: 'crl'; url: string }
  /** An OCSP answer (already signature-checked) for the certificate `key`, received at `at` (ms). */
  | { kind: 'ocsp'; key: string; answer: OcspAnswer; at: number };

/**
 * Several processes (or threads) that check revocation for one node: `exclusive` makes a download
 * happen once per node even when several need it at the same moment, and `publish` resolves only
 * after every other one has applied the change (so it holds everywhere before anyone answers).
 * @harper-tls/server passes its workers' channel; without it each checker is on its own.
 */
export interface SharedRevocation {
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
  publish(event: SharedRevocationEvent): Promise<void>;
  subscribe(fn: (event: SharedRevocationEvent) => Promise<void> | void): void;
}
