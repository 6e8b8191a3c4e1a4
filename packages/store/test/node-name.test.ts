import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '@harper-tls/config';
import { claimClusterNodeName, initClusterSchema, openClusterStores, StoreError, type ClusterStores } from '../src/index.js';
import { opensslPki, startEngine, type Engine } from './helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { freePort } from './helpers/free-port.js';

/** `cluster.nodeName` unique in a cluster: a session advisory lock on the node's own connection (real PostgreSQL over mTLS). */
let dir: string;
let engine: Engine;
let proxy: TcpProxy;
let pki: ReturnType<typeof opensslPki>;
const closers: Array<() => Promise<unknown>> = [];

function clusterConfig(node: string, port = engine.port): ClusterConfig {
  const tls = pki.node(node);
  return {
    nodeName: node,
    url: engine.url,
    engine: { user: 'harper_tls', host: '127.0.0.1', port, database: 'harper_tls' },
    tls: { certificate: tls.cert, privateKey: tls.key, certificateAuthority: pki.caPath },
    pollInterval: 300,
    changeRetention: 86_400_000,
  };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'htls-store-name-'));
  pki = opensslPki(dir, { engineHost: '127.0.0.1', nodes: ['node-a'] });
  engine = await startEngine(pki, { port: await freePort() });
  await initClusterSchema(clusterConfig('node-a'));
  proxy = await startTcpProxy({ host: '127.0.0.1', port: engine.port });
}, 60_000);

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await proxy?.close();
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node names', () => {
  let a: ClusterStores;
  it('a second holder of a running node\'s name is refused, told the holder; tools (no claim) are not', async () => {
    a = await openClusterStores({ cluster: clusterConfig('node-a', proxy.port), claimNodeName: true });
    closers.push(() => a.close());
    const err = await openClusterStores({ cluster: clusterConfig('node-a'), claimNodeName: true }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('ERR_STORE_NODE_NAME');
    expect((err as Error).message).toMatch(/cluster\.nodeName "node-a" is held by another running node \(connected from 127\.0\.0\.1:\d+ since .*"harper-tls node-a name"\)/);
    const primary = await claimClusterNodeName({ cluster: clusterConfig('node-a') }).catch((e) => e);
    expect((primary as StoreError).code).toBe('ERR_STORE_NODE_NAME');
    // A tool (the CLI on the node's root) opens the stores without claiming the name.
    const tool = await openClusterStores({ cluster: clusterConfig('node-a') });
    await tool.close();
    expect(a.health().status).toBe('ok');
  });

  it('the name lost while disconnected and taken by another: degraded with the reason, still serving; freed, held again', async () => {
    await a.users.put({ username: 'kept', role: 'reader', active: true, passwordHash: 'h' });
    proxy.cut();
    // Another node takes the name while this one cannot reach the engine (its session ended with its socket).
    const thief = await claimClusterNodeName({ cluster: clusterConfig('node-a') });
    proxy.restore();
    await until('node-a reports the conflict', () => a.health().status === 'degraded' && /taken by another node/.test(a.health().reason ?? ''), 15_000);
    expect(a.health().reason).toMatch(/cluster\.nodeName "node-a" was taken by another node \(connected from 127\.0\.0\.1/);
    expect(a.users.get('kept')?.username).toBe('kept'); // the last-known state
    await thief.close();
    await until('node-a holds its name again', () => a.health().status === 'ok', 15_000);
    expect(engine.psql(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE l.locktype = 'advisory' AND s.application_name = 'harper-tls node-a name'`)).toBe('1');
  });
});
