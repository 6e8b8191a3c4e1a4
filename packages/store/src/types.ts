/**
 * The narrow shapes the other packages declare for their storage (structurally the same as
 * cert-gen's LocalCaStore, server's CertificateStore, revocation's RevocationStore and the
 * server's user records), with the optional cluster-wide extras: an insert that fails when the
 * key exists, an atomic increment, a cluster-wide lock, and change notification for writes made
 * by other nodes.
 */
export interface SharedKeyValueStore {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  list(prefix: string): Promise<Array<[string, string]>>;
  remove(key: string): Promise<void>;
  /** Writes `value` only when `key` is absent (a uniqueness constraint): false when it exists. */
  create(key: string, value: string): Promise<boolean>;
  /** Adds one to the decimal number at `key` (absent: 0) atomically across the cluster; the new value. */
  increment(key: string): Promise<string>;
  /** Writes `value` at `key` and increments the number at `counter`, in one commit; the counter's new value. */
  putAndIncrement(key: string, value: string, counter: string): Promise<string>;
  /** Runs `fn` holding a cluster-wide lock named `name`, after catching up with every committed change. */
  lock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Calls `listener` with each key changed by a commit (this node's or another's), after it is visible to `get`. */
  onChange(listener: (key: string) => void): () => void;
}

export interface SharedBytesStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
  lock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  onChange(listener: (key: string) => void): () => void;
}

/** A user as stored: the server's user store hashes and checks, the engine only keeps records. */
export interface UserRecord {
  username: string;
  role: string;
  active: boolean;
  passwordHash: string;
}

/** Users, read from this node's copy (synchronously, also while the engine is unreachable). */
export interface UserRecords {
  get(username: string): UserRecord | undefined;
  list(): UserRecord[];
  count(): number;
  /** False when the user exists. */
  create(record: UserRecord): Promise<boolean>;
  put(record: UserRecord): Promise<void>;
  /**
   * Reads the current record and writes `change(current)` in one write transaction (no change of
   * another writer in between is lost); undefined, and nothing written, when the user is absent.
   */
  update(username: string, change: (current: UserRecord) => UserRecord): Promise<UserRecord | undefined>;
  remove(username: string): Promise<void>;
  onChange(listener: (username: string) => void): () => void;
  close(): Promise<void>;
}

export interface ClusterHealth {
  status: 'ok' | 'degraded';
  /** Last change version this node has applied. */
  version: number;
  /** Why degraded, for logs and /health. */
  reason?: string;
}

/** Where the store logs (pino-shaped: an object, then a message). */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}
