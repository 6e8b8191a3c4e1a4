import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { open, type RootDatabase, type Database } from 'lmdb';

/**
 * The embedded engine of one node (lmdb, the engine Harper uses): `<dir>/server.mdb` with named
 * databases for run-time certificates, the local CA and the revocation cache, and `users.mdb`.
 * lmdb is multi-process safe, so CLI commands and a running server share them. Errors are
 * handed to the caller's `fail` so each package keeps its own typed error.
 */
export interface LmdbDatabases {
  /** Run-time certificates (add_certificate), keyed by name, JSON values. */
  certificates: Database<string, string>;
  /** Local CA records, string values. */
  localCa: Database<string, string>;
  /** Revocation cache: raw bytes. */
  revocation: Database<Buffer, string>;
  close(): Promise<void>;
}

export type Fail = (message: string, cause: unknown) => Error;

/** Opens `<dir>/server.mdb`. */
export function openLmdbDatabases(dir: string, fail: Fail): LmdbDatabases {
  const path = join(dir, 'server.mdb');
  let root: RootDatabase;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    root = open({ path, maxDbs: 8 });
  } catch (err) {
    // A read-only or full disk, a foreign owner: one clear line, not lmdb's stack.
    throw fail(`cannot open the database ${path}: ${(err as Error).message}`, err);
  }
  return {
    certificates: root.openDB<string, string>({ name: 'certificates', encoding: 'string' }),
    localCa: root.openDB<string, string>({ name: 'local-ca', encoding: 'string' }),
    revocation: root.openDB<Buffer, string>({ name: 'revocation', encoding: 'binary' }),
    close: () => root.close(),
  };
}

/**
 * Runs an lmdb write and turns its failure into the caller's error. lmdb rejects a failed commit
 * with "Commit failed (see commitError for details)" and a second promise, `commitError`, that
 * rejects with the cause (ENOSPC, EACCES...); left unhandled, that second rejection would crash
 * the process.
 */
export async function lmdbWrite<T>(write: () => Promise<T>, fail: (cause: Error, original: unknown) => Error): Promise<T> {
  try {
    return await write();
  } catch (err) {
    let cause = err as Error & { commitError?: Promise<unknown> };
    if (cause?.commitError && typeof cause.commitError.then === 'function') {
      const detail = await Promise.race([cause.commitError.then(() => undefined, (e: unknown) => e), new Promise((r) => setTimeout(r, 1000).unref())]);
      if (detail instanceof Error) cause = detail;
    }
    throw fail(cause, err);
  }
}

type WriteFail = (what: string, cause: Error, original: unknown) => Error;

/** Runs `fn` holding a lock named `name` (with several worker processes: the server's node-wide `peers.exclusive`). */
export type LmdbLock = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** A lock within this process: one holder per name at a time, the others queued in order. */
function processLock(): LmdbLock {
  const tails = new Map<string, Promise<unknown>>();
  return async (name, fn) => {
    const before = tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    tails.set(name, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(name) === tail) tails.delete(name);
    }
  };
}

/**
 * A string-valued lmdb database as the key-value shape of cert-gen's local CA and the server's
 * certificates, with an atomic `increment` (the read and the put in one lmdb write transaction,
 * which lmdb serialises across processes) and a `lock` (`opts.lock`, the node-wide lock of a
 * server with several workers; else one within this process), so the local CA builds, stores and
 * serves one CRL per revision for the node, as on a shared engine.
 */
export function lmdbKeyValueStore(db: Database<string, string>, fail: WriteFail, opts: { lock?: LmdbLock } = {}) {
  const lock = opts.lock ?? processLock();
  /** Inside a write transaction: the read sees the last commit of any process, and the put is part of the transaction. */
  const incrementIn = (key: string): string => {
    const current = db.get(key) ?? '0';
    const next = (BigInt(/^\d+$/.test(current) ? current : '0') + 1n).toString();
    // Applied inside the transaction; its own promise only repeats the block's outcome.
    void db.put(key, next).catch(() => {});
    return next;
  };
  return {
    async increment(key: string): Promise<string> {
      return lmdbWrite(() => db.transaction(() => incrementIn(key)), (c, e) => fail(key, c, e));
    },
    /** `value` at `key` and the counter's increment in one commit: both or neither. */
    async putAndIncrement(key: string, value: string, counter: string): Promise<string> {
      return lmdbWrite(
        () =>
          db.transaction(() => {
            void db.put(key, value).catch(() => {});
            return incrementIn(counter);
          }),
        (c, e) => fail(key, c, e),
      );
    },
    lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
      return lock(name, fn);
    },
    async get(key: string): Promise<string | undefined> {
      return db.get(key) ?? undefined;
    },
    async put(key: string, value: string): Promise<void> {
      await lmdbWrite(() => db.put(key, value), (c, e) => fail(key, c, e));
    },
    async list(prefix: string): Promise<Array<[string, string]>> {
      const out: Array<[string, string]> = [];
      for (const { key, value } of db.getRange({ start: prefix })) {
        if (typeof key !== 'string' || !key.startsWith(prefix)) break;
        out.push([key, value]);
      }
      return out;
    },
    async remove(key: string): Promise<void> {
      await lmdbWrite(() => db.remove(key), (c, e) => fail(key, c, e));
    },
  };
}

/** lmdb-js hands out values of this size and more as views of its map (SHARED_BUFFER_THRESHOLD in its src/lmdb-js.h). */
const MAPPED_THRESHOLD = 0x1000000;
/** A key no value is ever stored under (keys here are `crl:<url>` and `ocsp:...`). */
const NEVER_SET = '\u0000never-set';

/**
 * The binary lmdb database as the revocation checker's persistent cache, without copying values
 * (a cached CRL is tens of MiB): `get` returns a view of the buffer lmdb's `get` made for this
 * value (its own copy of the bytes, not the buffer lmdb reuses for the next read
 * (`getBinaryFast`): safe to keep), and `put` hands lmdb a view of the caller's bytes. lmdb
 * writes that memory as is on its write thread and keeps it referenced until the next write (its
 * last queued write), so the caller passes memory it keeps anyway and never modifies it.
 */
export function lmdbBytesStore(db: Database<Buffer, string>, fail: WriteFail) {
  return {
    async get(key: string): Promise<Uint8Array | undefined> {
      const v = db.get(key);
      return v ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : undefined;
    },
    async put(key: string, value: Uint8Array): Promise<void> {
      await lmdbWrite(() => db.put(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)), (c, e) => fail(key, c, e));
      // lmdb-js keeps the last value it wrote referenced until its next write (measured: 50 MiB
      // stay in arrayBuffers after a GC): after a big one, a write of nothing (removing a key that
      // is never set) lets the caller's memory go, so a process that then maps the value keeps no copy.
      if (value.byteLength >= MAPPED_THRESHOLD) await lmdbWrite(() => db.remove(NEVER_SET), (c, e) => fail(key, c, e));
    },
    /**
     * The value as a view into lmdb's memory map, not a copy, when lmdb gives one (values of 16
     * MiB and more: `getBinaryFast` returns a Uint8Array over the map, `isSharedMap`). The pages
     * of a map of one file are the page cache's, shared by every process that maps it. lmdb
     * reuses a freed page once no read transaction that saw it is open, so the view is bound to
     * its read transaction (`retain`, which counts a reference on lmdb-js's current read txn:
     * lmdb-js then sets that txn aside at its next renewal instead of resetting it) until
     * `release()` (`txn.done()`, which aborts the set-aside txn once its count is 0). Between
     * the two the view reads exactly the value as it was, whatever is written meanwhile; the
     * caller must release it (a view held for ever keeps its pages, and the file grows by a value
     * at each rewrite). Smaller values are copied (lmdb's read buffer is reused by the next read).
     */
    async getMapped(key: string): Promise<MappedValue | undefined> {
      const v = db.getBinaryFast(key) as (Buffer & { txn?: { done(): void } }) | undefined;
      if (!v) return undefined;
      if ((v.buffer as ArrayBuffer & { isSharedMap?: boolean }).isSharedMap !== true) return { bytes: Uint8Array.prototype.slice.call(v, 0, v.length), mapped: false, release: () => undefined };
      // Inside a write transaction lmdb-js copies instead (and returns the copy).
      const kept = (db as unknown as { retain(data: Uint8Array): Uint8Array }).retain(v);
      const txn = v.txn;
      if (kept !== v || !txn) return { bytes: kept === v ? Uint8Array.prototype.slice.call(v, 0, v.length) : kept, mapped: false, release: () => undefined };
      let released = false;
      return {
        bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
        mapped: true,
        release() {
          if (released) return;
          released = true;
          txn.done();
        },
      };
    },
  };
}

/** A value of `lmdbBytesStore().getMapped`: `bytes` valid until `release()`. */
export interface MappedValue {
  bytes: Uint8Array;
  /** True: a view of lmdb's memory map (shared with other processes); false: a private copy. */
  mapped: boolean;
  release(): void;
}

export interface LmdbUserRecord {
  username: string;
  role: string;
  active: boolean;
  passwordHash: string;
}

/** Users in one lmdb database at `path` (`<ROOTPATH>/database/users.mdb`): records only; hashing is the caller's. */
export function openLmdbUserRecords(path: string, fail: { open: Fail; write: (cause: Error, original: unknown) => Error }) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: RootDatabase<LmdbUserRecord, string>;
  try {
    db = open<LmdbUserRecord, string>({ path, name: undefined });
  } catch (err) {
    throw fail.open(`cannot open the user store at ${path}: ${(err as Error).message}`, err);
  }
  return {
    get: (username: string) => db.get(username) as LmdbUserRecord | undefined,
    list: () => [...db.getRange({})].map(({ value }) => value),
    count: () => db.getKeysCount(),
    // The put inside the conditional block settles with the block; its own promise only repeats the outcome.
    create: (user: LmdbUserRecord) => lmdbWrite(() => db.ifNoExists(user.username, () => void db.put(user.username, user).catch(() => {})), fail.write),
    put: async (user: LmdbUserRecord) => void (await lmdbWrite(() => db.put(user.username, user), fail.write)),
    /** Read and write in one lmdb write transaction (serialised across processes); undefined when absent. */
    update: (username: string, change: (current: LmdbUserRecord) => LmdbUserRecord) =>
      lmdbWrite(
        () =>
          db.transaction(() => {
            const current = db.get(username) as LmdbUserRecord | undefined;
            if (!current) return undefined;
            const next = change(current);
            void db.put(username, next).catch(() => {});
            return next;
          }),
        fail.write,
      ),
    // lmdb's remove() resolves true even for a missing key: the caller looks first.
    remove: async (username: string) => void (await lmdbWrite(() => db.remove(username), fail.write)),
    close: () => db.close(),
  };
}
