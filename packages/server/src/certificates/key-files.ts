import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@harper-tls/cert-gen';
import { ServerError } from '../errors.js';

/**
 * Where the private keys of certificates added at run time live: never in the database (which
 * keeps only a reference). `write` returns the reference of a new key; `sweep` removes keys no
 * record references (a crash between writing a key and committing its record, or after a record
 * was replaced or removed, leaves one).
 */
export interface RuntimeKeyStore {
  write(name: string, pem: string): Promise<string>;
  read(ref: string): string;
  remove(ref: string): Promise<void>;
  /** Removes every key not in `referenced`; returns the references removed. */
  sweep(referenced: ReadonlySet<string>): Promise<string[]>;
}

const KEY_FILE = /^[A-Za-z0-9._-]{1,120}-[0-9a-f]{16}-key\.pem$/;

/**
 * Keys as files in `dir` (`<ROOTPATH>/keys/runtime`, mode 0700), one per key, mode 0600, written
 * atomically. A file is named by the certificate name and its key's hash, so a replacement writes
 * a new file and the old one stays until the new record is committed: a crash at any point leaves
 * each record with its own key, never another's. `readOnly` (doctor): reads only; writes,
 * removals and sweeps do nothing.
 */
export function fileKeyStore(dir: string, opts: { readOnly?: boolean } = {}): RuntimeKeyStore {
  const ensureDir = () => mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    async write(name, pem) {
      const ref = `${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120)}-${createHash('sha256').update(pem).digest('hex').slice(0, 16)}-key.pem`;
      if (opts.readOnly) return ref;
      ensureDir();
      try {
        await writeFileAtomic(join(dir, ref), pem, { mode: 0o600 });
      } catch (err) {
        throw new ServerError('ERR_SERVER_DATABASE', `the private key could not be written to ${dir}: ${(err as Error).message}`, { cause: err });
      }
      return ref;
    },
    read(ref) {
      if (!KEY_FILE.test(ref)) throw new ServerError('ERR_SERVER_CERTIFICATE', `invalid key reference ${JSON.stringify(ref)}`);
      return readFileSync(join(dir, ref), 'utf8');
    },
    async remove(ref) {
      if (!opts.readOnly && KEY_FILE.test(ref)) await unlink(join(dir, ref)).catch(() => undefined);
    },
    async sweep(referenced) {
      if (opts.readOnly) return [];
      let files: string[];
      try {
        files = readdirSync(dir);
      } catch {
        return [];
      }
      const gone = files.filter((f) => KEY_FILE.test(f) && !referenced.has(f));
      for (const f of gone) await unlink(join(dir, f)).catch(() => undefined);
      return gone;
    },
  };
}

/** Keys in memory only (tests, and tools that never persist). */
export function memoryKeyStore(): RuntimeKeyStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  let n = 0;
  return {
    map,
    async write(name, pem) {
      const ref = `${name}-${(n++).toString(16).padStart(16, '0')}-key.pem`;
      map.set(ref, pem);
      return ref;
    },
    read(ref) {
      const pem = map.get(ref);
      if (pem === undefined) throw new ServerError('ERR_SERVER_CERTIFICATE', `no key ${ref}`);
      return pem;
    },
    async remove(ref) {
      map.delete(ref);
    },
    async sweep(referenced) {
      const gone = [...map.keys()].filter((k) => !referenced.has(k));
      for (const k of gone) map.delete(k);
      return gone;
    },
  };
}

/** `<ROOTPATH>/keys/runtime`: the private keys of certificates added at run time. */
export function runtimeKeysDir(rootPath: string): string {
  return join(rootPath, 'keys', 'runtime');
}
