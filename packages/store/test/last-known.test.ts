import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_SAVED_CACHE_BYTES, readLastKnown, savedRecords, writeLastKnown } from '../src/postgres/last-known.js';

// writeSync as the disk answers it: by default the real one; a test makes it write less, or fail.
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return { ...real, writeSync: vi.fn(real.writeSync) };
});
const realWriteSync = vi.mocked(fs.writeSync).getMockImplementation()! as unknown as (fd: number, b: Uint8Array, offset?: number, length?: number) => number;

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'last-known-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  vi.mocked(fs.writeSync).mockImplementation(realWriteSync as typeof fs.writeSync);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const expectNode = { nodeName: 'node-a', engine: '127.0.0.1:5432/harper' };

describe('last-known cluster state file', () => {
  it('round-trips records and leaves large downloaded CRLs out, counting them', () => {
    const big = Buffer.alloc(MAX_SAVED_CACHE_BYTES + 1, 7);
    const all = [
      { ns: 'users', key: 'alice', value: Buffer.from('{"role":"super_user"}') },
      { ns: 'revocation', key: 'crl:http://127.0.0.1/small.crl', value: Buffer.alloc(100, 1) },
      { ns: 'revocation', key: 'crl:http://127.0.0.1/big.crl', value: big },
      // Only the revocation cache is ever left out, whatever the size.
      { ns: 'certificates', key: 'c1', value: Buffer.alloc(MAX_SAVED_CACHE_BYTES + 1, 2) },
    ];
    const { records, omitted } = savedRecords(all);
    expect(omitted).toBe(1);
    expect(records.map((r) => r.key)).toEqual(['alice', 'crl:http://127.0.0.1/small.crl', 'c1']);
    const path = join(tmp(), 'database', 'cluster-state.json');
    writeLastKnown(path, { ...expectNode, version: 42, savedAt: new Date(0).toISOString(), records, omitted });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const back = readLastKnown(path, expectNode)!;
    expect(back.version).toBe(42);
    expect(back.omitted).toBe(1);
    expect(back.records.map((r) => [r.ns, r.key, r.value.length])).toEqual(records.map((r) => [r.ns, r.key, r.value.length]));
    expect(readFileSync(path, 'utf8')).not.toContain(big.toString('base64').slice(0, 64));
  });

  it('reads a file written before `omitted` existed as nothing left out', () => {
    const path = join(tmp(), 'cluster-state.json');
    writeLastKnown(path, { ...expectNode, version: 3, savedAt: new Date(0).toISOString(), records: [] });
    const raw = JSON.parse(readFileSync(path, 'utf8'));
    delete raw.omitted;
    writeFileSync(path, JSON.stringify(raw));
    expect(readLastKnown(path, expectNode)!.omitted).toBe(0);
  });

  it('short writes (a nearly full disk) write the whole file; a failed write leaves the previous file as it was and no temporary file', () => {
    const dir = join(tmp(), 'database');
    const path = join(dir, 'cluster-state.json');
    const state = (version: number) => ({ ...expectNode, version, savedAt: new Date(0).toISOString(), records: [{ ns: 'users', key: 'alice', value: Buffer.alloc(5000, 3) }] });
    writeLastKnown(path, state(1));
    const before = readFileSync(path);
    // At most 1000 bytes per call (of a buffer, or of a string as one), as a disk short of space may do.
    const short = (fd: number, data: Uint8Array | string, offset?: unknown, length?: unknown) => {
      const b: Uint8Array = typeof data === 'string' ? Buffer.from(data) : data;
      const off = typeof data === 'string' ? 0 : ((offset as number | undefined) ?? 0);
      const len = typeof data === 'string' ? b.length : ((length as number | undefined) ?? b.length - off);
      return realWriteSync(fd, b, off, Math.min(len, 1000));
    };
    vi.mocked(fs.writeSync).mockImplementation(short as typeof fs.writeSync);
    writeLastKnown(path, state(2));
    expect(readLastKnown(path, expectNode)?.version).toBe(2);
    expect(readLastKnown(path, expectNode)?.records[0]?.value).toEqual(Buffer.alloc(5000, 3));
    const good = readFileSync(path);
    // The disk fills up after a first part: the write fails, the previous file is untouched.
    let calls = 0;
    vi.mocked(fs.writeSync).mockImplementation(((fd: number, data: Uint8Array | string, offset?: unknown, length?: unknown) => {
      if (calls++ > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return short(fd, data, offset, length);
    }) as typeof fs.writeSync);
    expect(() => writeLastKnown(path, state(3))).toThrow(/ENOSPC/);
    expect(readFileSync(path)).toEqual(good);
    expect(good).not.toEqual(before);
    expect(readdirSync(dir)).toEqual(['cluster-state.json']);
  });
});
