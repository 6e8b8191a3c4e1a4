/**
 * Messages between the primary process and its workers (node:cluster IPC, `advanced`
 * serialization so Dates and byte arrays pass as they are). Workers never talk to each other:
 * the primary relays, counts acknowledgements and answers the sender.
 */

/** Sent by a worker. */
export type WorkerMessage =
  | { ht: 'init?' }
  | { ht: 'ready'; listening: unknown[]; generatedAdminPassword?: string; expiringSoon?: unknown[] }
  /** Apply `topic` on every other worker; the primary answers `done` once all have. */
  | { ht: 'broadcast'; id: number; topic: string; payload: unknown }
  | { ht: 'applied'; id: number; error?: string }
  /** Node-wide mutual exclusion (CRL downloads, OCSP queries): `granted` when it is this worker's turn. */
  | { ht: 'lock'; id: number; key: string }
  | { ht: 'unlock'; id: number }
  /** `/metrics`: the primary collects every worker's metrics and answers `metrics`. */
  | { ht: 'metrics?'; id: number }
  | { ht: 'metrics-json'; id: number; json: unknown[] }
  /** hdb.log reopened (after the primary's `log-reopen`): this worker no longer writes the renamed file. */
  | { ht: 'log-reopened'; id: number };

/** Sent by the primary. */
export type PrimaryMessage =
  | { ht: 'init'; index: number; count: number; ticketKeys: Uint8Array }
  | { ht: 'apply'; id: number; topic: string; payload: unknown }
  | { ht: 'done'; id: number; errors: string[] }
  | { ht: 'granted'; id: number }
  | { ht: 'metrics-json?'; id: number }
  | { ht: 'metrics'; id: number; text: string; contentType: string }
  | { ht: 'stop' }
  /** The primary renamed hdb.log (rotation): open it again and answer `log-reopened`. */
  | { ht: 'log-reopen'; id: number };

export function isHarperMessage(m: unknown): m is { ht: string } {
  return typeof m === 'object' && m !== null && typeof (m as { ht?: unknown }).ht === 'string';
}

/** Environment variable that carries a worker's index (0 … count-1; a replacement keeps it). */
export const WORKER_INDEX_ENV = 'HARPER_TLS_WORKER_INDEX';
