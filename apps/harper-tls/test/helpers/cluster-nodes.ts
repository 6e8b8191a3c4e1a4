/**
 * Nodes of a test cluster on the real PostgreSQL of packages/store/test/helpers/postgres.ts:
 * roots sharing one local CA (copied as docs/cluster.md says), engine client certificates from
 * `harper-tls cluster issue-node`, the engine started with the docs' configuration lines, and the
 * small HTTP helpers the cluster tests use.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSelfSignedCertificates } from '@harper-tls/cert-gen';
import { freePort, runToEnd, type Run } from './run.js';
import { startEngine, type Engine } from '../../../../packages/store/test/helpers/postgres.js';

export type ClusterNode = { name: string; root: string; ports: { http: number; https: number; ops: number }; server?: Run };
export const ADMIN = { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'cluster-admin-pw' };
export const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** Roots for `names` (node-a … node-c are in docs/cluster.md's pg_ident.conf), the engine running, the schema created. */
export async function startCluster(base: string, names: string[]): Promise<{ nodes: ClusterNode[]; engine: Engine }> {
  const nodes: ClusterNode[] = [];
  for (const name of names) {
    const root = join(base, name);
    mkdirSync(join(root, 'keys'), { recursive: true });
    nodes.push({ name, root, ports: { http: await freePort(), https: await freePort(), ops: await freePort() } });
  }
  await ensureSelfSignedCertificates({ keysDir: join(nodes[0]!.root, 'keys') });
  for (const n of nodes.slice(1)) for (const f of ['ca.pem', 'ca-privateKey.pem']) copyFileSync(join(nodes[0]!.root, 'keys', f), join(n.root, 'keys', f));
  const issued = await runToEnd(['cluster', 'issue-node', '--root', nodes[0]!.root, '--name', nodes[0]!.name, '--engine', '127.0.0.1']);
  if (issued.code !== 0) throw new Error(`cluster issue-node: ${issued.stderr}`);
  for (const n of nodes.slice(1)) {
    const r = await runToEnd(['cluster', 'issue-node', '--root', n.root, '--name', n.name]);
    if (r.code !== 0) throw new Error(`cluster issue-node: ${r.stderr}`);
  }
  const keys = join(nodes[0]!.root, 'keys');
  const engine = await startEngine({ caPem: readFileSync(join(keys, 'ca.pem'), 'utf8'), engineCertPem: readFileSync(join(keys, 'engine.pem'), 'utf8'), engineKeyPem: readFileSync(join(keys, 'engine-key.pem'), 'utf8') }, { port: await freePort() });
  for (const n of nodes) writeNodeConfig(n, engine.port);
  const init = await runToEnd(['cluster', 'init', '--root', nodes[0]!.root]);
  if (init.code !== 0) throw new Error(`cluster init: ${init.stderr}`);
  return { nodes, engine };
}

export function writeNodeConfig(n: ClusterNode, enginePort: number, extra: string[] = []): void {
  writeFileSync(
    join(n.root, 'harperdb-config.yaml'),
    [
      'http:', `  port: ${n.ports.http}`, `  securePort: ${n.ports.https}`, '  mtls:', '    required: false', '    certificateVerification: true',
      'operationsApi:', '  network:', `    port: ${n.ports.ops}`,
      'logging:', '  level: warn',
      'cluster:', `  nodeName: ${n.name}`, `  url: postgres://harper_tls@127.0.0.1:${enginePort}/harper_tls`, '  pollInterval: 500', ...extra, '',
    ].join('\n'),
  );
}

export async function op(n: ClusterNode, body: object, auth = basic('admin', ADMIN.HDB_ADMIN_PASSWORD)): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${n.ports.ops}/`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: await res.json() };
}

export async function get(n: ClusterNode, path: string, auth?: string): Promise<{ status: number; body: any; bytes: Buffer }> {
  const res = await fetch(`http://127.0.0.1:${n.ports.http}${path}`, { headers: auth ? { authorization: auth } : {}, signal: AbortSignal.timeout(15_000) });
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString());
  } catch {
    body = undefined;
  }
  return { status: res.status, body, bytes };
}

export async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}
