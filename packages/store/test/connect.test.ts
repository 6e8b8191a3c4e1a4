import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '@harper-tls/config';
import { initClusterSchema, openClusterStores, type ClusterStores } from '../src/index.js';
import { nodeClusterConfig, opensslPki, startEngine, type Engine } from './helpers/postgres.js';
import { freePort } from './helpers/free-port.js';
import { childScript, PACKAGE } from './helpers/child-script.js';

/**
 * The engine-side limits of a node's sessions (connect.ts): keepalive probes on every session,
 * so a node whose host dies without a FIN loses its sessions (and their locks) in seconds, and
 * an idle-in-transaction limit on the write session, so a node that goes silent in a write no
 * longer blocks every other writer; none on the lock session, whose transaction is legitimately
 * silent while its holder works.
 */
let dir: string;
let engine: Engine;
let pki: ReturnType<typeof opensslPki>;
let store: ClusterStores | undefined;
let child: ChildProcess | undefined;

/** Every pg client the store makes, to ask each session what the engine set for it. */
const made: pg.Client[] = [];
const Original = pg.Client;
pg.Client = class extends Original {
  constructor(config?: pg.ClientConfig) {
    super(config);
    made.push(this);
  }
} as typeof pg.Client;

const clusterConfig = (node: string, extra: Record<string, unknown> = {}): ClusterConfig => nodeClusterConfig(engine, pki, node, extra);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'htls-connect-'));
  pki = opensslPki(dir, { engineHost: '127.0.0.1', nodes: ['node-a', 'node-b'] });
  engine = await startEngine(pki, { port: await freePort() });
  await initClusterSchema(clusterConfig('node-a'));
}, 60_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await store?.close();
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
  pg.Client = Original;
});

const SETTINGS = ['tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count', 'idle_in_transaction_session_timeout', 'lock_timeout'];
async function settingsOf(c: pg.Client): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of SETTINGS) out[s] = (await c.query(`SHOW ${s}`)).rows[0][s];
  return out;
}
const byPurpose = (purpose: string) => made.find((c) => (c as unknown as { connectionParameters: { application_name: string } }).connectionParameters.application_name === `harper-tls node-a ${purpose}`);

describe('engine sessions: server-side keepalives and timeouts', () => {
  it('SHOW on the store\'s own sessions: keepalives on all; idle-in-transaction and lock_timeout by the write timeout; none on the lock session', async () => {
    store = await openClusterStores({ cluster: clusterConfig('node-a'), writeTimeoutMs: 3000, readTimeoutMs: 3000 });
    await store.localCa.put('k', 'v');
    const keepalives = { tcp_keepalives_idle: '10', tcp_keepalives_interval: '5', tcp_keepalives_count: '3' };
    expect(await settingsOf(byPurpose('writer')!)).toEqual({ ...keepalives, idle_in_transaction_session_timeout: '6s', lock_timeout: '2700ms' });
    expect(await settingsOf(byPurpose('listen')!)).toMatchObject({ ...keepalives, idle_in_transaction_session_timeout: '6s' });
    const inLock = await store.localCa.lock('crl', () => settingsOf(byPurpose('lock')!));
    expect(inLock).toEqual({ ...keepalives, idle_in_transaction_session_timeout: '0', lock_timeout: '33s' });
  });

  it('a node that goes silent (SIGSTOP) inside a write transaction blocks the other writers only until the engine ends its session', async () => {
    child = spawn(process.execPath, ['--input-type=module', '-e', await childScript(CHILD, 'silent-writer.ts'), JSON.stringify(clusterConfig('node-b'))], { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('in-tx\n')) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
    });
    // node-b holds the version row lock every write takes, and stops: its own deadline never fires.
    process.kill(child.pid!, 'SIGSTOP');
    const t0 = Date.now();
    // node-a's write waits for it: it goes through once the engine ends node-b's silent session
    // (idle_in_transaction_session_timeout 2 * 5 s), well before this write's 30 s.
    const waiting = await openClusterStores({ cluster: clusterConfig('node-a'), writeTimeoutMs: 30_000 });
    try {
      await waiting.localCa.put('after-silent-writer', 'ok');
      expect(Date.now() - t0).toBeLessThan(25_000);
    } finally {
      await waiting.close();
    }
    expect(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE key = 'held-by-b'`)).toBe('0');
  }, 60_000);
});

/** The silent node: this package's engine (source bundled now), writing, stopping inside the transaction. */
const CHILD = `
import { PostgresEngine } from './src/postgres/engine.ts';
const engine = new PostgresEngine({ cluster: JSON.parse(process.argv[1]), writeTimeoutMs: 5000 });
await engine.start();
void engine.write(async (tx) => {
  await tx.put('local-ca', 'held-by-b', Buffer.from('x'));
  process.stdout.write('in-tx\\n');
  await new Promise(() => {});
}).catch(() => {});
`;

