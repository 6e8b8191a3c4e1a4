import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempRoot } from './helpers/run.js';
import { ADMIN, basic, get, startCluster, writeNodeConfig, type ClusterNode } from './helpers/cluster-nodes.js';
import { kill9, spawnCli, type Child } from './reliability/harness.js';
import type { Engine } from '../../../packages/store/test/helpers/postgres.js';

/**
 * `cluster.nodeName`s are unique in a cluster (SPEC.md section 10), on a real PostgreSQL over
 * mTLS: a second node with a running node's name is refused, naming the name and the holder; the
 * same node restarted after it was killed (SIGKILL) starts.
 */
const temp = tempRoot();
let nodes: ClusterNode[];
let engine: Engine;
const children: Child[] = [];

beforeAll(async () => {
  ({ nodes, engine } = await startCluster(temp.root, ['node-a']));
}, 120_000);

afterAll(async () => {
  for (const c of children) await kill9(c);
  await engine?.stop();
  temp.cleanup();
});

/** Another root holding node-a's engine identity, with its own ports. */
async function twin(name: string): Promise<ClusterNode> {
  const root = join(temp.root, name);
  mkdirSync(root, { recursive: true });
  cpSync(join(nodes[0]!.root, 'keys'), join(root, 'keys'), { recursive: true });
  const n: ClusterNode = { name: 'node-a', root, ports: { http: await freePort(), https: await freePort(), ops: await freePort() } };
  writeNodeConfig(n, engine.port);
  return n;
}

function start(n: ClusterNode): Child {
  const c = spawnCli(['start', '--root', n.root], ADMIN);
  children.push(c);
  return c;
}

describe('node names are unique in a cluster', () => {
  it('a second node with a running node\'s name refuses to start, naming it and its holder; after a kill -9 of the holder the name is free', async () => {
    const [a] = nodes as [ClusterNode];
    const first = start(a);
    await first.waitFor('operations ', 60_000);
    expect((await get(a, '/health')).body).toEqual({ status: 'ok', cluster: 'ok' });

    const b = await twin('twin');
    const refused = start(b);
    const { code } = await refused.exited;
    expect(code).not.toBe(0);
    expect(refused.stderr()).toMatch(/cluster\.nodeName "node-a" is held by another running node \(connected from 127\.0\.0\.1:\d+ since \S+, "harper-tls node-a name"\): node names are unique in a cluster/);
    expect(refused.stderr()).not.toMatch(/\n\s+at /); // no stack trace
    // The refused node never served: its ports are closed.
    await expect(fetch(`http://127.0.0.1:${b.ports.http}/health`)).rejects.toThrow();
    expect((await get(a, '/whoami', basic('admin', ADMIN.HDB_ADMIN_PASSWORD))).status).toBe(200);

    // Killed: its engine sessions end when its sockets close; the same name starts again.
    first.proc.kill('SIGKILL');
    await first.exited;
    const again = start(b);
    await again.waitFor('operations ', 60_000);
    expect((await get(b, '/health')).body).toEqual({ status: 'ok', cluster: 'ok' });
    expect(engine.psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'harper-tls node-a name'`)).toBe('1');
  });

  it('a stopped node (SIGTERM) frees its name at once: restarted, it is not refused', async () => {
    const n = await twin('restart');
    // The node from the last test holds node-a: stop it cleanly first.
    const running = children[children.length - 1]!;
    running.proc.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
    const c = start(n);
    await c.waitFor('operations ', 60_000);
    expect((await get(n, '/health')).body).toEqual({ status: 'ok', cluster: 'ok' });
  });

  it('with several workers the primary holds the name for all of them: another node with it is refused', async () => {
    const running = children[children.length - 1]!;
    running.proc.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
    const n = await twin('workers');
    const pool = spawnCli(['start', '--root', n.root], { ...ADMIN, THREADS_COUNT: '2' });
    children.push(pool);
    await pool.waitFor('serving with 2 workers', 90_000);
    expect((await get(n, '/health')).body).toEqual({ status: 'ok', cluster: 'ok' });
    // One name session for the node (the primary's), not one per worker.
    expect(engine.psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'harper-tls node-a name'`)).toBe('1');
    const other = start(await twin('other'));
    expect((await other.exited).code).not.toBe(0);
    expect(other.stderr()).toMatch(/cluster\.nodeName "node-a" is held by another running node/);
    pool.proc.kill('SIGTERM');
    expect((await pool.exited).code).toBe(0);
  });
});
