import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { run, runToEnd, tempRoot } from './helpers/run.js';
import { ADMIN, basic, get, op, startCluster, until, type ClusterNode } from './helpers/cluster-nodes.js';
import type { Engine } from '../../../packages/store/test/helpers/postgres.js';

/**
 * A node that synced once starts while the engine is down (SPEC.md section 10: nodes keep
 * serving from their last-known state): degraded, users of the saved state authenticate, writes
 * answer 503, and it catches up when the engine is back. A node that never synced refuses.
 * A real PostgreSQL over mTLS, shut down and started again by the test.
 */
const temp = tempRoot();
let nodes: ClusterNode[];
let engine: Engine;

beforeAll(async () => {
  ({ nodes, engine } = await startCluster(temp.root, ['node-a', 'node-b']));
}, 120_000);

afterAll(async () => {
  for (const n of nodes ?? []) await n.server?.stop();
  await engine?.stop();
  temp.cleanup();
});

describe('a node started while the engine is unreachable', () => {
  it('saves its last-known state (0600, no private key in clear), starts from it degraded, resyncs when the engine is back', async () => {
    const [a] = nodes as [ClusterNode];
    a.server = run(['start', '--root', a.root], ADMIN);
    await a.server.waitFor('operations ', 60_000);
    expect((await op(a, { operation: 'add_user', username: 'sam', password: 'sam-pw', role: 'reader', active: true })).status).toBe(200);
    // A run-time certificate with its key: in the saved state only sealed.
    const dir = join(temp.root, 'shop');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'shop.key'), '-out', join(dir, 'shop.pem'), '-days', '30', '-subj', '/CN=shop.example', '-addext', 'subjectAltName=DNS:shop.example'], { stdio: 'pipe' });
    expect((await op(a, { operation: 'add_certificate', name: 'shop', certificate: readFileSync(join(dir, 'shop.pem'), 'utf8'), private_key: readFileSync(join(dir, 'shop.key'), 'utf8'), uses: ['https'] })).status).toBe(200);
    const file = join(a.root, 'database', 'cluster-state.json');
    const saved = () => {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as { version: number; records: Array<[string, string, string]> };
      } catch {
        return undefined;
      }
    };
    const head = Number(engine.psql('SELECT version FROM harper_tls_meta'));
    await until('the state saved at the engine version', () => saved()?.version === head);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const values = saved()!.records.map(([, , v]) => Buffer.from(v, 'base64').toString('utf8'));
    expect(values.some((v) => v.includes('"sealedPrivateKey":"aes-256-gcm.v1:'))).toBe(true);
    expect(values.filter((v) => v.includes('PRIVATE KEY'))).toEqual([]);
    expect(saved()!.records.some(([ns, key]) => ns === 'users' && key === 'sam')).toBe(true);
    await a.server.stop();
    a.server = undefined;
    // While A is stopped, B (another root, never started) adds walt: A's saved state is older than the engine.
    const bRoot = join(temp.root, 'never');
    execFileSync('cp', ['-r', nodes[1]!.root, bRoot]);
    const b = nodes[1]!;
    b.server = run(['start', '--root', b.root], ADMIN);
    await b.server.waitFor('operations ', 60_000);
    expect((await op(b, { operation: 'add_user', username: 'walt', password: 'walt-pw', role: 'reader', active: true })).status).toBe(200);
    await b.server.stop();
    b.server = undefined;

    await engine.halt();
    try {
      // Never synced (a copy of B's root before its first start): refused, saying why.
      const never = await runToEnd(['start', '--root', bRoot], ADMIN);
      expect(never.code).not.toBe(0);
      expect(never.stderr).toMatch(new RegExp(`cannot reach the cluster engine at 127\\.0\\.0\\.1:${engine.port}/harper_tls.*ECONNREFUSED.*this node has never synced with it \\(no last-known state in .*cluster-state\\.json\\), so it cannot start until the engine answers`, 's'));
      // Synced before: starts within the bounded wait, degraded.
      const t0 = Date.now();
      a.server = run(['start', '--root', a.root], ADMIN);
      await a.server.waitFor('operations ', 30_000);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect((await get(a, '/health')).body).toEqual({ status: 'ok', cluster: 'degraded' });
      expect((await get(a, '/whoami', basic('sam', 'sam-pw'))).status).toBe(200);
      expect((await get(a, '/whoami', basic('sam', 'wrong'))).status).toBe(401);
      expect((await get(a, '/whoami', basic('walt', 'walt-pw'))).status).toBe(401); // not in A's last-known state
      const t1 = Date.now();
      const w = await op(a, { operation: 'add_user', username: 'tom', password: 'tom-pw', role: 'reader', active: true });
      expect(w).toEqual({ status: 503, body: { error: 'Cluster store unavailable' } });
      expect(Date.now() - t1).toBeLessThan(5000);
    } finally {
      await engine.restart();
    }
    // Back: caught up with what changed while A was away (walt), writes work again, the new state saved.
    await until('A ok again', async () => (await get(a, '/health')).body?.cluster === 'ok', 15_000);
    await until('walt on A', async () => (await get(a, '/whoami', basic('walt', 'walt-pw'))).status === 200, 10_000);
    expect((await op(a, { operation: 'add_user', username: 'tom', password: 'tom-pw', role: 'reader', active: true })).status).toBe(200);
    expect((await get(a, '/whoami', basic('tom', 'tom-pw'))).status).toBe(200);
    await until('the new state saved', () => saved()?.version === Number(engine.psql('SELECT version FROM harper_tls_meta')));
  });
});
