import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../errors.js';

const FORMAT = 'harper-tls cluster last-known state v1';

/**
 * This node's last-known copy of the shared state, kept in a file so that a node that has synced
 * once can start while the engine is unreachable (degraded: reads from it, writes answer 503).
 * The file holds the engine's records as they are: users with their password hashes, run-time
 * certificates with their private keys only sealed (never in clear), the local CA's records and
 * the revocation cache. 0600, written atomically (a temporary file, fsync, rename).
 */
export interface LastKnown {
  nodeName: string;
  /** host:port/database of the engine it came from. */
  engine: string;
  version: number;
  savedAt: string;
  records: Array<{ ns: string; key: string; value: Buffer }>;
  /**
   * Records left out of the file (large downloaded CRLs, see MAX_SAVED_CACHE_BYTES): a node that
   * starts from this state reloads the whole state from the engine on its first catch-up.
   */
  omitted?: number;
}

/**
 * A revocation-cache value (a downloaded CRL or OCSP answer) larger than this is not saved in the
 * last-known file: the file is rewritten after every change, and a 1M-entry CRL (35 MiB) would
 * make each rewrite cost tens of MiB and a blocked event loop. A node that starts from the file
 * downloads such a CRL again on its own (the engine is unreachable then anyway).
 */
export const MAX_SAVED_CACHE_BYTES = 1024 * 1024;

/** The records worth saving: everything but large revocation-cache values. */
export function savedRecords(records: Array<{ ns: string; key: string; value: Buffer }>): { records: Array<{ ns: string; key: string; value: Buffer }>; omitted: number } {
  const kept = records.filter((r) => r.ns !== 'revocation' || r.value.length <= MAX_SAVED_CACHE_BYTES);
  return { records: kept, omitted: records.length - kept.length };
}

export function writeLastKnown(path: string, state: LastKnown): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const text = JSON.stringify({ format: FORMAT, nodeName: state.nodeName, engine: state.engine, version: state.version, savedAt: state.savedAt, omitted: state.omitted ?? 0, records: state.records.map((r) => [r.ns, r.key, r.value.toString('base64')]) });
  const tmp = `${path}.${process.pid}.tmp`;
  const bytes = Buffer.from(text, 'utf8');
  const fd = openSync(tmp, 'w', 0o600);
  try {
    try {
      // writeSync may write less than asked (a nearly full disk): until every byte is written.
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    // The previous file stays as it was, and no partial temporary file is left behind.
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The saved state; undefined when there is none; ERR_STORE_CONFIG naming the file when it cannot be used. */
export function readLastKnown(path: string, expect: { nodeName: string; engine: string }): LastKnown | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError('ERR_STORE_CONFIG', `${path}: the last-known cluster state cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const bad = (why: string) => new StoreError('ERR_STORE_CONFIG', `${path}: not a usable last-known cluster state (${why}); delete it, and start this node while the engine is reachable`);
  let raw: { format?: unknown; nodeName?: unknown; engine?: unknown; version?: unknown; savedAt?: unknown; records?: unknown };
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not JSON: the file is damaged');
  }
  if (raw.format !== FORMAT) throw bad(`unknown format ${JSON.stringify(raw.format)}`);
  if (raw.nodeName !== expect.nodeName) throw bad(`saved by node "${String(raw.nodeName)}", this node is "${expect.nodeName}"`);
  if (raw.engine !== expect.engine) throw bad(`saved from the engine ${String(raw.engine)}, this node's is ${expect.engine}`);
  if (typeof raw.version !== 'number' || !Array.isArray(raw.records)) throw bad('no version or records');
  const records = (raw.records as unknown[]).map((r) => {
    if (!Array.isArray(r) || r.length !== 3 || r.some((x) => typeof x !== 'string')) throw bad('a record is not [ns, key, value]');
    return { ns: r[0] as string, key: r[1] as string, value: Buffer.from(r[2] as string, 'base64') };
  });
  const omitted = typeof (raw as { omitted?: unknown }).omitted === 'number' ? (raw as { omitted: number }).omitted : 0;
  return { nodeName: expect.nodeName, engine: expect.engine, version: raw.version, savedAt: String(raw.savedAt), records, omitted };
}
