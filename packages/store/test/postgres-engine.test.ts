import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '@harper-tls/config';
import { initClusterSchema, openClusterStores, readClusterSnapshot, StoreError, type ClusterStores } from '../src/index.js';
import { nodeClusterConfig, opensslPki, startEngine, type Engine } from './helpers/postgres.js';
import { freePort } from './helpers/free-port.js';

const NODES = ['node-a', 'node-b', 'node-c'];
let dir: string;
let engine: Engine;
let pki: ReturnType<typeof opensslPki>;
const stores: ClusterStores[] = [];

const clusterConfig = (node: string, extra: Record<string, unknown> = {}): ClusterConfig => nodeClusterConfig(engine, pki, node, extra);

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'htls-store-'));
  pki = opensslPki(dir, { engineHost: '127.0.0.1', nodes: [...NODES, 'intruder'] });
  engine = await startEngine(pki, { port: await freePort() });
});

afterAll(async () => {
  for (const s of stores) await s.close();
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the PostgreSQL engine over mTLS', () => {
  it('refuses to open before `cluster init`, saying so', async () => {
    const err = await openClusterStores({ cluster: clusterConfig('node-a') }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('ERR_STORE_NO_SCHEMA');
    expect((err as Error).message).toMatch(/harper-tls cluster init/);
  });

  it('creates the schema once; running init again changes nothing', async () => {
    expect(await initClusterSchema(clusterConfig('node-a'))).toEqual({ created: true });
    expect(await initClusterSchema(clusterConfig('node-b'))).toEqual({ created: false });
    expect(engine.psql('SELECT version FROM harper_tls_meta')).toBe('0');
  });

  it('refuses a certificate pg_ident.conf does not name, and a connection without TLS', async () => {
    const err = await openClusterStores({ cluster: clusterConfig('node-a', { tls: { ...clusterConfig('node-a').tls, certificate: pki.node('intruder').cert, privateKey: pki.node('intruder').key } }) }).catch((e) => e);
    expect((err as Error).message).toMatch(/certificate authentication failed|no pg_ident|does not match/i);
    const pg = (await import('pg')).default;
    const plain = new pg.Client({ host: '127.0.0.1', port: engine.port, user: 'harper_tls', database: 'harper_tls', ssl: false });
    plain.on('error', () => undefined);
    const e2 = await plain.connect().catch((e) => e);
    expect((e2 as Error).message).toMatch(/pg_hba.conf rejects connection|no encryption/);
  });

  it('verifies the engine: a name its certificate does not carry, or another CA, is refused', async () => {
    const byName = await openClusterStores({ cluster: { ...clusterConfig('node-a'), engine: { user: 'harper_tls', host: 'localhost', port: engine.port, database: 'harper_tls' } } }).catch((e) => e);
    expect((byName as StoreError).code).toBe('ERR_STORE_UNAVAILABLE');
    expect((byName as Error).message).toMatch(/localhost.*(not in the cert's altnames|does not match)/i);
    const other = opensslPki(mkdtempSync(join(dir, 'other-')), { engineHost: '127.0.0.1', nodes: [] });
    const byCa = await openClusterStores({ cluster: { ...clusterConfig('node-a'), tls: { ...clusterConfig('node-a').tls, certificateAuthority: other.caPath } } }).catch((e) => e);
    expect((byCa as Error).message).toMatch(/self[- ]signed|unable to verify|unable to get local issuer/i);
  });

  it('a missing certificate file is a configuration error naming its key', async () => {
    const err = await openClusterStores({ cluster: { ...clusterConfig('node-a'), tls: { ...clusterConfig('node-a').tls, privateKey: join(dir, 'nope.pem') } } }).catch((e) => e);
    expect((err as StoreError).code).toBe('ERR_STORE_CONFIG');
    expect((err as Error).message).toMatch(/cluster\.tls\.privateKey: cannot read .*nope\.pem \(ENOENT\)/);
  });

  it('three nodes: a write on one is on the others, in order, once committed', async () => {
    for (const n of NODES) stores.push(await openClusterStores({ cluster: clusterConfig(n) }));
    const [a, b, c] = stores as [ClusterStores, ClusterStores, ClusterStores];
    const seen: string[] = [];
    c.localCa.onChange((k) => seen.push(k));
    await a.localCa.put('k1', 'v1');
    expect(await a.localCa.get('k1')).toBe('v1'); // read-your-write, at once
    await b.localCa.put('k2', 'v2');
    await a.localCa.remove('k1');
    await until('node-c has every change', async () => (await c.localCa.get('k2')) === 'v2' && (await c.localCa.get('k1')) === undefined);
    expect(seen).toEqual(['k1', 'k2', 'k1']);
    expect(c.health().version).toBe(a.health().version);
    expect(Number(engine.psql('SELECT count(DISTINCT version) FROM harper_tls_changes'))).toBe(3);
  });

  it('users: create is insert-if-absent across nodes', async () => {
    const [a, b] = stores as [ClusterStores, ClusterStores];
    const rec = { username: 'alice', role: 'super_user', active: true, passwordHash: 'x' };
    const results = await Promise.all([a.users.create(rec), b.users.create({ ...rec, role: 'other' })]);
    expect(results.filter(Boolean)).toHaveLength(1);
    await until('alice on both', () => a.users.get('alice') !== undefined && b.users.get('alice')?.role === a.users.get('alice')?.role);
  });

  it('users: update reads the engine\'s record in its write transaction: concurrent updates on two nodes both hold; an absent user is not recreated', async () => {
    const [a, b] = stores as [ClusterStores, ClusterStores];
    expect(await a.users.create({ username: 'upd', role: 'super_user', active: true, passwordHash: 'h1' })).toBe(true);
    const results = await Promise.all([a.users.update('upd', (u) => ({ ...u, role: 'reader' })), b.users.update('upd', (u) => ({ ...u, passwordHash: 'h2' }))]);
    expect(results.every((r) => r !== undefined)).toBe(true);
    await until('both changes on both nodes', () => [a, b].every((s) => s.users.get('upd')?.role === 'reader' && s.users.get('upd')?.passwordHash === 'h2'));
    await a.users.remove('upd');
    // node-b may still have the user in its copy: the update reads the engine and finds none.
    expect(await b.users.update('upd', (u) => ({ ...u, role: 'super_user' }))).toBeUndefined();
    expect(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE ns = 'users' AND key = 'upd'`)).toBe('0');
  });

  it('increment is atomic across nodes: 60 concurrent increments end at 60, every value once', async () => {
    const values = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.localCa.increment('meta:counter')));
    expect(new Set(values).size).toBe(60);
    expect(values.map(Number).sort((x, y) => x - y).at(-1)).toBe(60);
  });

  it('putAndIncrement: a record and a counter in one commit (one version), seen together by the other nodes', async () => {
    const [a, b] = stores as [ClusterStores, ClusterStores];
    expect(await a.localCa.putAndIncrement('issued:pai', 'revoked', 'meta:pai')).toBe('1');
    expect(await b.localCa.putAndIncrement('issued:pai', 'revoked again', 'meta:pai')).toBe('2');
    expect(engine.psql(`SELECT count(*) || '/' || count(DISTINCT version) FROM harper_tls_changes WHERE ns = 'local-ca' AND key IN ('issued:pai', 'meta:pai')`)).toBe('4/2');
    await until('both on node-a', async () => (await a.localCa.get('meta:pai')) === '2' && (await a.localCa.get('issued:pai')) === 'revoked again');
  });

  it('a burst of 300 changes on one node to a healthy engine all commit (they wait their turn, no timeout)', async () => {
    const a = stores[0]!;
    await Promise.all(Array.from({ length: 300 }, (_, i) => a.localCa.put(`burst:${i}`, String(i))));
    expect(await a.localCa.list('burst:')).toHaveLength(300);
  });

  it('the cluster lock admits one holder at a time', async () => {
    let inside = 0;
    let max = 0;
    await Promise.all(
      stores.flatMap((s) =>
        [1, 2].map(() =>
          s.localCa.lock('crl', async () => {
            inside++;
            max = Math.max(max, inside);
            await new Promise((r) => setTimeout(r, 20));
            inside--;
          }),
        ),
      ),
    );
    expect(max).toBe(1);
  });

  it('a killed notification connection: the change still arrives (change log on reconnect or poll)', async () => {
    const [a, , c] = stores as [ClusterStores, ClusterStores, ClusterStores];
    const killed = engine.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'harper-tls node-c listen%'`);
    expect(Number(killed)).toBe(1);
    await a.localCa.put('after-kill', 'yes');
    const t0 = Date.now();
    await until('the change on node-c', async () => (await c.localCa.get('after-kill')) === 'yes', 5000);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a read-only snapshot (doctor) sees every committed record at one version and writes nothing', async () => {
    const [a] = stores as [ClusterStores];
    await a.users.put({ username: 'snap', role: 'reader', active: true, passwordHash: 'h' });
    await a.certificates.put('cert:snap', '{"name":"snap"}');
    await a.revocation.put('crl:snap', new Uint8Array([1, 2, 3]));
    const before = engine.psql('SELECT version FROM harper_tls_meta');
    const snap = await readClusterSnapshot({ cluster: clusterConfig('node-c') });
    expect(snap.version).toBe(Number(before));
    expect(snap.users.get('snap')).toMatchObject({ username: 'snap', role: 'reader', active: true });
    expect(await snap.certificates.get('cert:snap')).toBe('{"name":"snap"}');
    expect([...((await snap.revocation.get('crl:snap')) ?? [])]).toEqual([1, 2, 3]);
    expect((await snap.localCa.list('')).length).toBe(Number(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE ns = 'local-ca'`)));
    await expect(snap.localCa.put('x', 'y')).rejects.toThrow(/read-only snapshot/);
    await expect(snap.users.remove('snap')).rejects.toThrow(/read-only snapshot/);
    expect(engine.psql('SELECT version FROM harper_tls_meta')).toBe(before);
    // Disconnected once read: no connection of this snapshot stays open.
    await until('the snapshot connection gone', () => engine.psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'harper-tls node-c read-only'`) === '0', 10_000);
    await snap.close();
    const down = await readClusterSnapshot({ cluster: { ...clusterConfig('node-c'), engine: { user: 'harper_tls', host: '127.0.0.1', port: await freePort(), database: 'harper_tls' } }, timeoutMs: 3000 }).catch((e) => e);
    expect((down as StoreError).code).toBe('ERR_STORE_UNAVAILABLE');
    expect((down as Error).message).toMatch(/cannot reach the cluster engine at 127\.0\.0\.1:\d+\/harper_tls/);
  });

  it('engine stopped: reads go on, writes fail within the bounded time, degraded; caught up after SIGCONT', async () => {
    const [a, b] = stores as [ClusterStores, ClusterStores];
    engine.pause();
    try {
      expect(await a.localCa.get('k2')).toBe('v2');
      const t0 = Date.now();
      // Twenty changes at once: the first meets the stopped engine, those queued behind it fail with it.
      const errs = await Promise.all(Array.from({ length: 20 }, (_, i) => a.localCa.put(`while-stopped-${i}`, 'x').then(() => undefined, (e) => e)));
      for (const err of errs) expect((err as StoreError).code).toBe('ERR_STORE_UNAVAILABLE');
      const err = await a.localCa.put('while-stopped', 'x').catch((e) => e);
      expect((err as StoreError).code).toBe('ERR_STORE_UNAVAILABLE');
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(await a.localCa.get('while-stopped')).toBeUndefined();
      await until('node-b degraded', () => b.health().status === 'degraded', 15_000);
    } finally {
      engine.resume();
    }
    const t1 = Date.now();
    await until('node-b ok', () => b.health().status === 'ok', 10_000);
    await a.localCa.put('after-stop', 'y');
    await until('after-stop on node-b', async () => (await b.localCa.get('after-stop')) === 'y', 10_000);
    expect(Date.now() - t1).toBeLessThan(10_000);
  });
});
