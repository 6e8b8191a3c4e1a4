import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, run, runToEnd, tempRoot } from './helpers/run.js';
import { ADMIN, basic, get, op, startCluster, until, writeNodeConfig, type ClusterNode } from './helpers/cluster-nodes.js';
import { startTcpProxy, type TcpProxy } from '../../../packages/store/test/helpers/tcp-proxy.js';
import type { Engine } from '../../../packages/store/test/helpers/postgres.js';

/**
 * The change log is pruned (cluster.changeRetention, here 1 s), and a node whose last version was
 * pruned while it was cut off from the engine reloads the whole state instead of applying a gap.
 * A real PostgreSQL over mTLS; node C reaches it through a TCP relay the test cuts.
 */
const temp = tempRoot();
let nodes: ClusterNode[];
let engine: Engine;
let proxy: TcpProxy;

const metric = async (n: ClusterNode, name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${n.ports.ops}/metrics`, { headers: { authorization: basic('admin', ADMIN.HDB_ADMIN_PASSWORD) } })).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
};

beforeAll(async () => {
  ({ nodes, engine } = await startCluster(temp.root, ['node-a', 'node-c']));
  proxy = await startTcpProxy({ host: '127.0.0.1', port: engine.port });
  const [a, c] = nodes as [ClusterNode, ClusterNode];
  writeNodeConfig(a, engine.port, ['  changeRetention: 1000']);
  writeNodeConfig(c, proxy.port, ['  changeRetention: 1000']);
  for (const n of nodes) {
    n.server = run(['start', '--root', n.root], ADMIN);
    await n.server.waitFor('operations ', 60_000);
  }
}, 180_000);

afterAll(async () => {
  for (const n of nodes ?? []) await n.server?.stop();
  await proxy?.close();
  await engine?.stop();
  temp.cleanup();
});

describe('change-log pruning', () => {
  it('rows older than the retention are deleted; a node away across the pruning reloads everything and has every change', async () => {
    const [a, c] = nodes as [ClusterNode, ClusterNode];
    const out = join(temp.root, 'pete');
    expect((await runToEnd(['cert', 'issue', '--root', a.root, '--cn', 'pete', '--out', out])).code).toBe(0);
    for (const u of ['olga', 'pete']) expect((await op(a, { operation: 'add_user', username: u, password: `${u}-pw`, role: 'reader', active: true })).status).toBe(200);
    const peteOn = (n: ClusterNode) => curl(['--cacert', join(a.root, 'keys', 'ca.pem'), '--cert', join(out, 'pete.pem'), '--key', join(out, 'pete-key.pem'), `https://localhost:${n.ports.https}/whoami`]);
    await until('olga and pete on C', async () => (await get(c, '/whoami', basic('olga', 'olga-pw'))).status === 200 && (await peteOn(c)).status === 200);
    // Pruning runs on its own: what is older than 1 s goes.
    await until('the change log pruned', () => engine.psql('SELECT count(*) FROM harper_tls_changes') === '0');
    expect(await metric(c, 'harper_tls_cluster_full_resyncs')).toBe(0); // C was there all along: nothing to reload

    proxy.cut();
    await until('C degraded', async () => (await get(c, '/health')).body?.cluster === 'degraded');
    const away = Number(engine.psql('SELECT version FROM harper_tls_meta'));
    expect((await op(a, { operation: 'add_user', username: 'quinn', password: 'quinn-pw', role: 'reader', active: true })).status).toBe(200);
    expect((await op(a, { operation: 'drop_user', username: 'olga' })).status).toBe(200);
    expect((await op(a, { operation: 'revoke_certificate', certificate: readFileSync(join(out, 'pete.pem'), 'utf8'), reason: 'keyCompromise' })).status).toBe(200);
    expect(Number(engine.psql('SELECT version FROM harper_tls_meta'))).toBeGreaterThan(away);
    await until('the changes made while C was away pruned', () => engine.psql(`SELECT count(*) FROM harper_tls_changes`) === '0');
    // Still cut off: C serves what it last knew.
    expect((await get(c, '/whoami', basic('olga', 'olga-pw'))).status).toBe(200);

    proxy.restore();
    await until('C ok again', async () => (await get(c, '/health')).body?.cluster === 'ok');
    expect(await metric(c, 'harper_tls_cluster_full_resyncs')).toBe(1);
    expect(await metric(c, 'harper_tls_cluster_version')).toBe(Number(engine.psql('SELECT version FROM harper_tls_meta')));
    expect((await get(c, '/whoami', basic('quinn', 'quinn-pw'))).status).toBe(200);
    expect((await get(c, '/whoami', basic('olga', 'olga-pw'))).status).toBe(401);
    expect((await peteOn(c)).status).toBe(401);
    // And the incremental path still works after the reload.
    expect((await op(a, { operation: 'add_user', username: 'rita', password: 'rita-pw', role: 'reader', active: true })).status).toBe(200);
    await until('rita on C', async () => (await get(c, '/whoami', basic('rita', 'rita-pw'))).status === 200);
    expect(await metric(c, 'harper_tls_cluster_full_resyncs')).toBe(1);
  });
});
