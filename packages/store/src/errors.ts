/**
 * Errors of the storage engines, with stable codes:
 * - ERR_STORE_UNAVAILABLE: the cluster engine did not answer in time or the connection failed;
 *   nothing was applied locally (the server answers 503 "Cluster store unavailable").
 * - ERR_STORE_CONFIG: the engine connection cannot be set up as configured (a file, a setting).
 * - ERR_STORE_NO_SCHEMA: the engine has no harper-tls schema (run `harper-tls cluster init`).
 * - ERR_STORE_ENGINE: the engine refused a statement (permissions, a constraint).
 * - ERR_STORE_NODE_NAME: another running node holds this node's `cluster.nodeName`.
 */
export type StoreErrorCode = 'ERR_STORE_UNAVAILABLE' | 'ERR_STORE_CONFIG' | 'ERR_STORE_NO_SCHEMA' | 'ERR_STORE_ENGINE' | 'ERR_STORE_NODE_NAME';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreUnavailable(err: unknown): boolean {
  return err instanceof Error && (err as { code?: string }).code === 'ERR_STORE_UNAVAILABLE';
}
