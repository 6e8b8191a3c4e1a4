import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_SAVED_CACHE_BYTES, readLastKnown, savedRecords, writeLastKnown } from '../src/postgres/last-known.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'last-known-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
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
});
