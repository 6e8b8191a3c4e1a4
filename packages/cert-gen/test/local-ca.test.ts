import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, createLocalCa, createMemoryLocalCaStore, type KeyAndCert } from '../src/index.js';
import { openssl, tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());

describe('createLocalCa', () => {
  let ca: KeyAndCert;
  beforeAll(async () => {
    ca = await createCA({ commonName: 'Local CA' });
  });

  it('issues, lists, revokes and publishes the revocation in a new CRL, shared through the store', async () => {
    const store = createMemoryLocalCaStore();
    let clock = new Date('2026-03-01T00:00:00Z');
    const a = createLocalCa({ ca, store, crlUrl: 'http://localhost:9926/ca/crl', ocspUrl: 'http://localhost:9926/ca/ocsp', now: () => clock });
    const b = createLocalCa({ ca, store, now: () => clock }); // e.g. the CLI, another process
    const alice = await a.issue({ cn: 'alice' });
    expect(openssl(['x509', '-noout', '-text', '-in', t.write('alice.pem', alice.certificatePem)])).toContain('URI:http://localhost:9926/ca/crl');
    expect(await b.list()).toEqual([expect.objectContaining({ serialHex: alice.serialHex, cn: 'alice', status: 'good', kind: 'client' })]);
    const crl1 = await a.crl();
    expect(await a.crl()).toBe(crl1); // cached while nothing changed
    await b.revoke(alice.certificatePem, 'keyCompromise');
    const crl2 = await a.crl();
    expect(crl2).not.toBe(crl1);
    const text = openssl(['crl', '-inform', 'DER', '-in', t.write('crl2.der', crl2), '-CAfile', t.write('ca.pem', ca.certificatePem), '-noout', '-text']);
    expect(text.toUpperCase()).toContain(alice.serialHex.toUpperCase());
    expect(text).toMatch(/CRL Number: \n\s+2/);
    expect((await a.list())[0]).toMatchObject({ status: 'revoked', reason: 'keyCompromise', revokedAt: clock.toISOString() });
    clock = new Date('2027-06-01T00:00:00Z');
    const bob = await a.issue({ cn: 'bob', days: 1 });
    clock = new Date('2027-06-03T00:00:00Z');
    expect((await a.list()).find((r) => r.serialHex === bob.serialHex)?.status).toBe('expired');
  });

  it('status() and revision() answer from the records, for every process sharing the store', async () => {
    const store = createMemoryLocalCaStore();
    const server = createLocalCa({ ca, store });
    const cli = createLocalCa({ ca, store });
    const issued = await cli.issue({ cn: 'dave' });
    const r0 = await server.revision();
    expect(await server.status(issued.serialHex)).toEqual({ status: 'good' });
    expect(await server.status(`00:${issued.serialHex.toUpperCase()}`)).toEqual({ status: 'good' });
    expect(await server.status('abcdef')).toBeUndefined();
    await cli.revoke(issued.serialHex, 'keyCompromise');
    expect(await server.revision()).not.toBe(r0);
    expect(await server.status(issued.serialHex)).toEqual({ status: 'revoked', reason: 'keyCompromise', revokedAt: expect.any(Date) });
  });

  it('a record an earlier version revoked with removeFromCRL is read as revoked without a reason: the CRL builds and lists it', async () => {
    const store = createMemoryLocalCaStore();
    const local = createLocalCa({ ca, store });
    const erin = await local.issue({ cn: 'erin' });
    const key = `issued:${erin.serialHex}`;
    const old = { ...JSON.parse((await store.get(key))!), status: 'revoked', revokedAt: '2026-03-01T00:00:00.000Z', reason: 'removeFromCRL' };
    await store.put(key, JSON.stringify(old));
    await store.put('meta:version', '7');
    const text = openssl(['crl', '-inform', 'DER', '-in', t.write('old-reason.der', await local.crl()), '-noout', '-text']);
    expect(text.toUpperCase()).toContain(erin.serialHex.toUpperCase());
    expect(text).not.toMatch(/Remove From CRL/i);
    expect(await local.status(erin.serialHex)).toEqual({ status: 'revoked', revokedAt: new Date('2026-03-01T00:00:00Z') });
    expect((await local.list())[0]).not.toHaveProperty('reason');
  });

  it('a revocation whose revision failed to commit: the retried revoke puts the serial into the CRL', async () => {
    const mem = createMemoryLocalCaStore();
    let failNext = false;
    const held = new Map<string, Promise<unknown>>();
    // A shared store (increment and lock) that writes the record and the revision in two commits, the second failing once.
    const store = {
      ...mem,
      async increment(key: string) {
        if (key === 'meta:version' && failNext) {
          failNext = false;
          throw new Error('the engine is unreachable');
        }
        const next = String(Number((await mem.get(key)) ?? '0') + 1);
        await mem.put(key, next);
        return next;
      },
      async lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
        const run = (held.get(name) ?? Promise.resolve()).then(fn, fn);
        held.set(name, run.catch(() => undefined));
        return run;
      },
    };
    const local = createLocalCa({ ca, store });
    const erin = await local.issue({ cn: 'erin' });
    const before = await local.crl();
    failNext = true;
    await expect(local.revoke(erin.serialHex, 'keyCompromise')).rejects.toThrow('unreachable');
    await local.revoke(erin.serialHex, 'keyCompromise');
    const after = await local.crl();
    expect(after).not.toEqual(before);
    const text = openssl(['crl', '-inform', 'DER', '-in', t.write('retried.der', after), '-noout', '-text']);
    expect(text.toUpperCase()).toContain(erin.serialHex.toUpperCase());
  });

  it('revoking twice keeps the first record; unknown serials and foreign certificates are errors', async () => {
    const local = createLocalCa({ ca, store: createMemoryLocalCaStore() });
    const c = await local.issue({ cn: 'carol' });
    const first = await local.revoke(c.serialHex);
    expect(await local.revoke(c.serialHex, 'superseded')).toEqual(first);
    await expect(local.revoke('abcdef')).rejects.toMatchObject({ code: 'ERR_CERTGEN_UNKNOWN_SERIAL' });
    const other = await createCA({ commonName: 'Other' });
    const foreign = createLocalCa({ ca: other, store: createMemoryLocalCaStore() });
    const f = await foreign.issue({ cn: 'x' });
    await expect(local.revoke(f.certificatePem)).rejects.toMatchObject({ code: 'ERR_CERTGEN_UNKNOWN_SERIAL', message: expect.stringContaining('not issued by this CA') });
    await expect(local.revoke(c.serialHex, 'sad' as never)).rejects.toMatchObject({ code: 'ERR_CERTGEN_INVALID_INPUT' });
  });
});
