import type { SharedBytesStore, SharedKeyValueStore, UserRecord, UserRecords } from '../types.js';
import type { PostgresEngine } from './engine.js';
import type { Tx } from './write-tx.js';

/** What the views use of an engine: its copy, its writes and its locks (a snapshot refuses writes). */
export type EngineView = Pick<PostgresEngine, 'mirror' | 'write' | 'lock'>;

const text = (b: Buffer | undefined) => (b === undefined ? undefined : b.toString('utf8'));

/** A namespace of string values (local CA records, run-time certificates), read from the node's copy. */
export function keyValueView(engine: EngineView, ns: string): SharedKeyValueStore {
  const incrementIn = async (tx: Tx, key: string) => {
    const current = text(await tx.get(ns, key)) ?? '0';
    const next = (BigInt(/^\d+$/.test(current) ? current : '0') + 1n).toString();
    await tx.put(ns, key, Buffer.from(next, 'utf8'));
    return next;
  };
  return {
    async get(key) {
      return text(engine.mirror.get(ns, key));
    },
    async put(key, value) {
      await engine.write((tx) => tx.put(ns, key, Buffer.from(value, 'utf8')));
    },
    async list(prefix) {
      return engine.mirror.list(ns, prefix).map(([k, v]) => [k, v.toString('utf8')]);
    },
    async remove(key) {
      await engine.write((tx) => tx.remove(ns, key));
    },
    async create(key, value) {
      return engine.write((tx) => tx.insert(ns, key, Buffer.from(value, 'utf8')));
    },
    async increment(key) {
      // Every write transaction first locks the version row, so this read-modify-write is atomic.
      return engine.write((tx) => incrementIn(tx, key));
    },
    async putAndIncrement(key, value, counter) {
      return engine.write(async (tx) => {
        await tx.put(ns, key, Buffer.from(value, 'utf8'));
        return incrementIn(tx, counter);
      });
    },
    lock: (name, fn) => engine.lock(`${ns}:${name}`, fn),
    onChange: (listener) => engine.mirror.onChange(ns, listener),
  };
}

/** A namespace of bytes (downloaded CRLs and OCSP answers). `get` hands out the copy's own buffer, never modified. */
export function bytesView(engine: EngineView, ns: string): SharedBytesStore {
  return {
    async get(key) {
      const b = engine.mirror.get(ns, key);
      return b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : undefined;
    },
    async put(key, value) {
      // The engine client serialises the bytes; the caller's memory is not kept.
      await engine.write((tx) => tx.put(ns, key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)));
    },
    lock: (name, fn) => engine.lock(`${ns}:${name}`, fn),
    onChange: (listener) => engine.mirror.onChange(ns, listener),
  };
}

/** Users as records; parsed once per change, not per read. */
export function userRecordsView(engine: EngineView, ns = 'users'): UserRecords {
  const parsed = new Map<string, { raw: Buffer; user: UserRecord }>();
  const read = (username: string): UserRecord | undefined => {
    const raw = engine.mirror.get(ns, username);
    if (!raw) return undefined;
    const hit = parsed.get(username);
    if (hit && hit.raw === raw) return hit.user;
    const user = JSON.parse(raw.toString('utf8')) as UserRecord;
    parsed.set(username, { raw, user });
    return user;
  };
  const off = engine.mirror.onChange(ns, (k) => parsed.delete(k));
  const encode = (r: UserRecord) => Buffer.from(JSON.stringify({ username: r.username, role: r.role, active: r.active, passwordHash: r.passwordHash }), 'utf8');
  return {
    get: (username) => read(username),
    list: () => engine.mirror.list(ns).map(([k]) => read(k)!),
    count: () => engine.mirror.size(ns),
    create: (record) => engine.write((tx) => tx.insert(ns, record.username, encode(record))),
    async put(record) {
      await engine.write((tx) => tx.put(ns, record.username, encode(record)));
    },
    // Read in the write transaction (the engine's current record, not this node's copy, which may be behind).
    update: (username, change) =>
      engine.write(async (tx) => {
        const raw = await tx.get(ns, username);
        if (!raw) return undefined;
        const next = change(JSON.parse(raw.toString('utf8')) as UserRecord);
        await tx.put(ns, username, encode(next));
        return next;
      }),
    async remove(username) {
      await engine.write((tx) => tx.remove(ns, username));
    },
    onChange: (listener) => engine.mirror.onChange(ns, listener),
    async close() {
      off();
    },
  };
}
