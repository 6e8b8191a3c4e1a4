import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { ensureSelfSignedCertificates } from '@harper-tls/cert-gen';
import { freePort, run, runToEnd, tempRoot, type Run } from './helpers/run.js';
import { startEngine, type Engine } from '../../../packages/store/test/helpers/postgres.js';
import { OpensslPki } from '../../../packages/revocation/test/helpers/openssl-pki.js';
import { startOpensslResponder } from '../../../packages/revocation/test/helpers/ocsp-servers.js';
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kill9, spawnCli } from './reliability/harness.js';
import { ADMIN, basic, get, op, until, writeNodeConfig as writeConfig, type ClusterNode as Node } from './helpers/cluster-nodes.js';

/**
 * SPEC.md section 10 end to end: a real PostgreSQL 15 configured with docs/cluster.md's lines
 * (TLS, client-certificate auth, everything else rejected), three harper-tls nodes sharing it.
 */
const NAMES = ['node-a', 'node-b', 'node-c'] as const;
const temp = tempRoot();
const nodes: Node[] = [];
let engine: Engine;

beforeAll(async () => {
  for (const name of NAMES) {
    const root = join(temp.root, name);
    mkdirSync(join(root, 'keys'), { recursive: true });
    nodes.push({ name, root, ports: { http: await freePort(), https: await freePort(), ops: await freePort() } });
  }
  // One local CA: made on node-a, copied to the others before their first start (docs/cluster.md).
  await ensureSelfSignedCertificates({ keysDir: join(nodes[0]!.root, 'keys') });
  for (const n of nodes.slice(1)) for (const f of ['ca.pem', 'ca-privateKey.pem']) copyFileSync(join(nodes[0]!.root, 'keys', f), join(n.root, 'keys', f));
  const engineDir = join(temp.root, 'engine-files');
  expect((await runToEnd(['cluster', 'issue-node', '--root', nodes[0]!.root, '--name', 'node-a', '--engine', '127.0.0.1'])).code).toBe(0);
  for (const n of nodes.slice(1)) expect((await runToEnd(['cluster', 'issue-node', '--root', n.root, '--name', n.name])).code).toBe(0);
  const keys = join(nodes[0]!.root, 'keys');
  engine = await startEngine({ caPem: readFileSync(join(keys, 'ca.pem'), 'utf8'), engineCertPem: readFileSync(join(keys, 'engine.pem'), 'utf8'), engineKeyPem: readFileSync(join(keys, 'engine-key.pem'), 'utf8') }, { port: await freePort() });
  void engineDir;
  for (const n of nodes) writeConfig(n, engine.port);
}, 120_000);

afterAll(async () => {
  for (const n of nodes) await n.server?.stop();
  await engine?.stop();
  temp.cleanup();
});

describe('three nodes on PostgreSQL over mTLS', () => {
  it('a node whose engine has no schema refuses to start, saying so; cluster init creates it once', async () => {
    const r = await runToEnd(['start', '--root', nodes[0]!.root], ADMIN);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no harper-tls schema: run `harper-tls cluster init`/);
    const init = await runToEnd(['cluster', 'init', '--root', nodes[0]!.root]);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/created the harper-tls schema/);
    const again = await runToEnd(['cluster', 'init', '--root', nodes[1]!.root]);
    expect(again.stdout).toMatch(/already there; nothing changed/);
  });

  it('a cluster.url with a password or a weaker sslmode is a configuration error', async () => {
    const root = join(temp.root, 'bad');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'harperdb-config.yaml'), `cluster:\n  url: postgres://harper_tls:secret@127.0.0.1:${engine.port}/harper_tls\n`);
    const r = await runToEnd(['cluster', 'init', '--root', root]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cluster\.url.*must not contain a password/s);
    expect(r.stderr).not.toMatch(/secret/);
    writeFileSync(join(root, 'harperdb-config.yaml'), `cluster:\n  url: postgres://harper_tls@127.0.0.1:${engine.port}/harper_tls?sslmode=require\n`);
    expect((await runToEnd(['cluster', 'init', '--root', root])).stderr).toMatch(/sslmode=require would not verify the engine/);
  });

  it('the three nodes start; /health says cluster ok', async () => {
    for (const n of nodes) {
      n.server = run(['start', '--root', n.root], ADMIN);
      await n.server.waitFor('operations ', 60_000);
    }
    for (const n of nodes) expect((await get(n, '/health')).body).toEqual({ status: 'ok', cluster: 'ok' });
  });

  it('add_user on A authenticates on C; alter and drop_user on A reach C', async () => {
    const [a, , c] = nodes as [Node, Node, Node];
    expect((await op(a, { operation: 'add_user', username: 'carol', password: 'carol-pw', role: 'reader', active: true })).status).toBe(200);
    // Acknowledged only once committed: the engine has it the moment A answered.
    expect(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE ns = 'users' AND key = 'carol'`)).toBe('1');
    const ms = await until('carol on C', async () => (await get(c, '/whoami', basic('carol', 'carol-pw'))).status === 200, 1000);
    expect(ms).toBeLessThan(1000);
    expect((await op(a, { operation: 'alter_user', username: 'carol', password: 'carol-pw2' })).status).toBe(200);
    await until('new password on C', async () => (await get(c, '/whoami', basic('carol', 'carol-pw2'))).status === 200, 1000);
    expect((await get(c, '/whoami', basic('carol', 'carol-pw'))).status).toBe(401);
    expect((await op(a, { operation: 'drop_user', username: 'carol' })).status).toBe(200);
    await until('carol gone on C', async () => (await get(c, '/whoami', basic('carol', 'carol-pw2'))).status === 401, 1000);
  });

  it('an operation token from A is accepted by B (one token secret, never in the engine)', async () => {
    const [a, b] = nodes as [Node, Node];
    const t = await op(a, { operation: 'create_authentication_tokens', username: 'admin', password: ADMIN.HDB_ADMIN_PASSWORD });
    expect(t.status).toBe(200);
    expect((await get(b, '/whoami', `Bearer ${t.body.operation_token}`)).status).toBe(200);
    expect(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE position('PRIVATE KEY'::bytea in value) > 0`)).toBe('0');
  });

  it('cert issue on A; revoked on B: A and C refuse it on the next request of an open connection and on a resumed session; one CRL, the same bytes everywhere', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const out = join(temp.root, 'issued');
    expect((await op(a, { operation: 'add_user', username: 'dave', password: 'dave-pw', role: 'reader', active: true })).status).toBe(200);
    const issued = await runToEnd(['cert', 'issue', '--root', a.root, '--cn', 'dave', '--out', out]);
    expect(issued.code).toBe(0);
    const client = { cert: readFileSync(join(out, 'dave.pem')), key: readFileSync(join(out, 'dave-key.pem')) };
    const caFile = join(a.root, 'keys', 'ca.pem');
    const conns = await Promise.all([a, c].map(async (n) => {
      const conn = new KeepAlive(n.ports.https, client, caFile);
      await conn.open();
      return conn;
    }));
    for (const conn of conns) expect(await conn.whoami()).toMatchObject({ status: 200, body: { username: 'dave', authenticatedBy: 'mtls' } });
    // Session tickets from A, to resume with before and after the revocation.
    await until('two session tickets from A', () => conns[0]!.tickets.length >= 2, 10_000);
    const resumedBefore = new KeepAlive(a.ports.https, client, caFile, conns[0]!.tickets[0]);
    await resumedBefore.open();
    expect(resumedBefore.socket!.isSessionReused()).toBe(true);
    expect((await resumedBefore.whoami()).status).toBe(200);
    resumedBefore.close();
    const crlBefore = (await get(a, '/ca/crl')).bytes;
    const serial = /serial ([0-9a-f]+)/i.exec(issued.stdout + issued.stderr)?.[1];
    const rev = await op(b, { operation: 'revoke_certificate', certificate: client.cert.toString(), reason: 'keyCompromise' });
    expect(rev.status).toBe(200);
    for (const conn of conns) await until('the open connection refused', async () => (await conn.whoami()).status === 401, 1000);
    // A session resumed on A after the revocation on B: resumption skips the TLS layer's
    // certificate check, never harper-tls's (the shared records say revoked).
    const resumedAfter = new KeepAlive(a.ports.https, client, caFile, conns[0]!.tickets[1]);
    await resumedAfter.open();
    expect(resumedAfter.socket!.isSessionReused()).toBe(true);
    expect((await resumedAfter.whoami()).status).toBe(401);
    resumedAfter.close();
    // A new connection is refused too (the handshake's revocation check uses the shared records).
    const fresh = new KeepAlive(c.ports.https, client, caFile);
    await fresh.open();
    expect((await fresh.whoami()).status).toBe(401);
    fresh.close();
    for (const conn of conns) conn.close();
    const crls = await Promise.all(nodes.map((n) => get(n, '/ca/crl')));
    for (const r of crls) expect(r.status).toBe(200);
    expect(crls[1]!.bytes.equals(crls[0]!.bytes)).toBe(true);
    expect(crls[2]!.bytes.equals(crls[0]!.bytes)).toBe(true);
    expect(crls[0]!.bytes.equals(crlBefore)).toBe(false);
    void serial;
    expect(Number(engine.psql(`SELECT convert_from(value, 'UTF8') FROM harper_tls_records WHERE ns = 'local-ca' AND key = 'meta:crlNumber'`))).toBeGreaterThanOrEqual(2);
  });

  it('a run-time CA added on A is listed on C', async () => {
    const [a, , c] = nodes as [Node, Node, Node];
    const caPem = readFileSync(join(a.root, 'keys', 'ca.pem'), 'utf8');
    expect((await op(a, { operation: 'add_certificate', name: 'partner-ca', certificate: caPem, is_authority: true, uses: ['https'] })).status).toBe(200);
    await until('partner-ca on C', async () => ((await op(c, { operation: 'list_certificates' })).body as Array<{ name: string }>).some((x) => x.name === 'partner-ca'), 2000);
  });

  it('a certificate added with its private key on A is served by C for its SNI name (key shared only sealed, 0600 file on C); removed on A, C stops', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const dir = join(temp.root, 'shop');
    mkdirSync(dir, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'shop.key'), '-out', join(dir, 'shop.pem'), '-days', '30', '-subj', '/CN=shop.example', '-addext', 'subjectAltName=DNS:shop.example', '-addext', 'extendedKeyUsage=serverAuth'], { stdio: 'pipe' });
    const certPem = readFileSync(join(dir, 'shop.pem'), 'utf8');
    const keyPem = readFileSync(join(dir, 'shop.key'), 'utf8');
    const fingerprint = new X509Certificate(certPem).fingerprint256;
    const before = await servedFingerprint(c.ports.https, 'shop.example');
    expect(before).not.toBe(fingerprint);
    expect((await op(a, { operation: 'add_certificate', name: 'shop', certificate: certPem, private_key: keyPem, uses: ['https'] })).status).toBe(200);
    for (const n of [c, b]) expect(await until(`shop served by ${n.name}`, async () => (await servedFingerprint(n.ports.https, 'shop.example')) === fingerprint, 15_000)).toBeLessThan(15_000);
    // The engine holds the key only sealed: no PEM private key anywhere in its tables.
    expect(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE position('PRIVATE KEY'::bytea in value) > 0`)).toBe('0');
    expect(engine.psql(`SELECT count(*) FROM harper_tls_changes WHERE position('PRIVATE KEY' in key) > 0 OR position('PRIVATE KEY' in node) > 0`)).toBe('0');
    const record = JSON.parse(engine.psql(`SELECT convert_from(value, 'UTF8') FROM harper_tls_records WHERE ns = 'certificates' AND key = 'cert:shop'`));
    expect(record.sealedPrivateKey).toMatch(/^aes-256-gcm\.v1:/);
    expect(record.privateKey).toBeUndefined();
    // C wrote its own key file, 0600, the same content-named file as A's.
    const keyFile = join(c.root, 'keys', 'runtime', record.privateKeyRef);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toBe(keyPem);
    expect(existsSync(join(a.root, 'keys', 'runtime', record.privateKeyRef))).toBe(true);
    expect((await op(a, { operation: 'remove_certificate', name: 'shop' })).status).toBe(200);
    await until('shop no longer served by C', async () => (await servedFingerprint(c.ports.https, 'shop.example')) !== fingerprint, 15_000);
    await until('the key file gone on C', () => !existsSync(keyFile), 15_000);
  });

  it('an external CRL is downloaded once for the whole cluster (the lock per URL), the copy stored in the engine', async () => {
    const [a] = nodes as [Node, Node, Node];
    const pki = new OpensslPki();
    let downloads = 0;
    let crlServer: Server | undefined;
    try {
      pki.ca('ext');
      const crl = pki.crl('ext');
      crlServer = createServer((req, res) => {
        downloads++;
        res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(Buffer.from(crl));
      });
      await new Promise<void>((r) => crlServer!.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(crlServer.address() as { port: number }).port}/ext.crl`;
      pki.issue('gina', 'ext', '7001', { cdp: url });
      expect((await op(a, { operation: 'add_certificate', name: 'ext-ca', certificate: pki.pem('ext'), is_authority: true, uses: ['https'] })).status).toBe(200);
      expect((await op(a, { operation: 'add_user', username: 'gina', password: 'gina-pw', role: 'reader', active: true })).status).toBe(200);
      const client = { cert: readFileSync(pki.path('gina.crt')), key: readFileSync(pki.path('gina.key')) };
      const caFile = join(a.root, 'keys', 'ca.pem');
      const whoamiOn = async (n: Node) => {
        const conn = new KeepAlive(n.ports.https, client, caFile);
        try {
          await conn.open();
          return (await conn.whoami()).status;
        } catch {
          return 0;
        } finally {
          conn.close();
        }
      };
      // The CA reaches every node's trust store; then all three check gina's CRL at once.
      for (const n of nodes) await until(`ext-ca trusted on ${n.name}`, async () => (await whoamiOn(n)) !== 0, 5000);
      const statuses = await Promise.all(nodes.map(whoamiOn));
      expect(statuses).toEqual([200, 200, 200]);
      expect(downloads).toBe(1);
      expect(Number(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE ns = 'revocation' AND key = 'crl:${url}'`))).toBe(1);
    } finally {
      crlServer?.close();
      pki.cleanup();
    }
  });

  it('a node killed (SIGKILL) right after it answered a write loses nothing: the change is on the other nodes', async () => {
    const [, b, c] = nodes as [Node, Node, Node];
    // A fourth process with node-b's engine identity, in a root of its own (its own ports);
    // node names are unique in a cluster, so node-b stops meanwhile.
    await b.server?.stop();
    const root = join(temp.root, 'killed');
    cpSync(join(nodes[1]!.root, 'keys'), join(root, 'keys'), { recursive: true });
    const ports = { http: await freePort(), ops: await freePort() };
    writeFileSync(join(root, 'harperdb-config.yaml'), ['http:', `  port: ${ports.http}`, 'operationsApi:', '  network:', `    port: ${ports.ops}`, 'logging:', '  level: warn', 'cluster:', '  nodeName: node-b', `  url: postgres://harper_tls@127.0.0.1:${engine.port}/harper_tls`, ''].join('\n'));
    const child = spawnCli(['start', '--root', root], ADMIN);
    try {
      await child.waitFor('operations ', 60_000);
      const killed = { name: 'killed', root, ports: { ...ports, https: 0 } };
      expect((await op(killed, { operation: 'add_user', username: 'henry', password: 'henry-pw', role: 'reader', active: true })).status).toBe(200);
      child.proc.kill('SIGKILL');
      await child.exited;
      await until('henry on C', async () => (await get(c, '/whoami', basic('henry', 'henry-pw'))).status === 200, 1000);
    } finally {
      await kill9(child);
      b.server = run(['start', '--root', b.root], ADMIN);
      await b.server.waitFor('operations ', 60_000);
    }
  });

  it('an external OCSP answer is asked once for the whole cluster (openssl ocsp behind a counting proxy), stored in the engine', async () => {
    const [a] = nodes as [Node, Node, Node];
    const pki = new OpensslPki();
    let asked = 0;
    let proxy: Server | undefined;
    let responder: ChildProcess | undefined;
    try {
      pki.ca('oc');
      pki.issue('ocsigner', 'oc', '8001', { ocspSigning: true });
      const responderPort = await freePort();
      proxy = createServer(async (req, res) => {
        asked++;
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const r = await fetch(`http://127.0.0.1:${responderPort}${req.url}`, { method: req.method, headers: { 'content-type': 'application/ocsp-request' }, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
        res.writeHead(r.status, { 'content-type': 'application/ocsp-response' }).end(Buffer.from(await r.arrayBuffer()));
      });
      await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
      pki.issue('ivan', 'oc', '8002', { ocsp: `http://127.0.0.1:${(proxy.address() as { port: number }).port}/` });
      pki.record('ivan', 'oc'); // in the index before openssl ocsp reads it
      responder = await startOpensslResponder(pki.dir, responderPort, 'ocsigner', 'oc');
      expect((await op(a, { operation: 'add_certificate', name: 'oc-ca', certificate: pki.pem('oc'), is_authority: true, uses: ['https'] })).status).toBe(200);
      expect((await op(a, { operation: 'add_user', username: 'ivan', password: 'ivan-pw', role: 'reader', active: true })).status).toBe(200);
      const client = { cert: readFileSync(pki.path('ivan.crt')), key: readFileSync(pki.path('ivan.key')) };
      const caFile = join(a.root, 'keys', 'ca.pem');
      // Every node trusts the CA and knows the user (the lists, not a handshake: no OCSP question before the test's).
      for (const n of nodes) await until(`oc-ca on ${n.name}`, async () => ((await op(n, { operation: 'list_certificates' })).body as Array<{ name: string }>).some((x) => x.name === 'oc-ca'), 5000);
      for (const n of nodes) await until(`ivan on ${n.name}`, async () => ((await op(n, { operation: 'list_users' })).body as Array<{ username: string }>).some((x) => x.username === 'ivan'), 5000);
      const statuses = await Promise.all(
        nodes.map(async (n) => {
          const conn = new KeepAlive(n.ports.https, client, caFile);
          await conn.open();
          const st = (await conn.whoami()).status;
          conn.close();
          return st;
        }),
      );
      expect(statuses).toEqual([200, 200, 200]);
      expect(asked).toBe(1);
      expect(Number(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE ns = 'revocation' AND key LIKE 'ocsp:%'`))).toBe(1);
    } finally {
      proxy?.close();
      responder?.kill();
      pki.cleanup();
    }
  });

  it('a killed notification connection: a change still arrives within 5 s', async () => {
    const [a, , c] = nodes as [Node, Node, Node];
    expect(Number(engine.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'harper-tls node-c listen%'`))).toBe(1);
    expect((await op(a, { operation: 'add_user', username: 'erin', password: 'erin-pw', role: 'reader', active: true })).status).toBe(200);
    expect(await until('erin on C', async () => (await get(c, '/whoami', basic('erin', 'erin-pw'))).status === 200, 5000)).toBeLessThan(5000);
  });

  it('engine stopped: nodes keep authenticating, changes answer 503 within 5 s, /health degraded within 15 s; caught up within 10 s of SIGCONT', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    engine.pause();
    try {
      expect((await get(b, '/whoami', basic('erin', 'erin-pw'))).status).toBe(200);
      const t0 = Date.now();
      const w = await op(a, { operation: 'add_user', username: 'frank', password: 'frank-pw', role: 'reader', active: true });
      expect(w).toEqual({ status: 503, body: { error: 'Cluster store unavailable' } });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect((await get(a, '/whoami', basic('frank', 'frank-pw'))).status).toBe(401); // never applied locally
      await until('C degraded', async () => (await get(c, '/health')).body?.cluster === 'degraded', 15_000);
      expect((await get(c, '/health')).body).toEqual({ status: 'ok', cluster: 'degraded' });
      const metrics = await fetch(`http://127.0.0.1:${c.ports.ops}/metrics`, { headers: { authorization: basic('admin', ADMIN.HDB_ADMIN_PASSWORD) } });
      expect(await metrics.text()).toMatch(/^harper_tls_cluster_up 0$/m);
      expect((await get(c, '/whoami', basic('erin', 'erin-pw'))).status).toBe(200);
    } finally {
      engine.resume();
    }
    const back = await until('every node ok again', async () => (await Promise.all(nodes.map((n) => get(n, '/health')))).every((r) => r.body?.cluster === 'ok'), 10_000);
    expect(back).toBeLessThan(10_000);
    const metrics = await fetch(`http://127.0.0.1:${c.ports.ops}/metrics`, { headers: { authorization: basic('admin', ADMIN.HDB_ADMIN_PASSWORD) } });
    expect(await metrics.text()).toMatch(/^harper_tls_cluster_up 1$/m);
    expect((await op(a, { operation: 'add_user', username: 'frank', password: 'frank-pw', role: 'reader', active: true })).status).toBe(200);
    await until('frank on C', async () => (await get(c, '/whoami', basic('frank', 'frank-pw'))).status === 200, 1000);
  });
});

describe('a node without cluster', () => {
  it('never loads the PostgreSQL client (a node with cluster does: the control)', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const script = join(here, 'helpers', 'modules-loaded.mjs');
    const single = tempRoot();
    try {
      await ensureSelfSignedCertificates({ keysDir: join(single.root, 'keys') });
      writeFileSync(join(single.root, 'harperdb-config.yaml'), ['http:', '  port: null', '  securePort: null', 'operationsApi:', '  network:', '    port: 9999', ''].join('\n'));
      const loaded = async (root: string) => (await new Promise<string>((res, rej) => execFile(process.execPath, [script, root, 'refusal-ok'], { timeout: 60_000 }, (err, out, errOut) => (err ? rej(new Error(`${err.message}\n${errOut}`)) : res(out))))).split('\n');
      const without = await loaded(single.root);
      expect(without.some((u) => u.includes('/lmdb/'))).toBe(true);
      expect(without.filter((u) => /\/node_modules\/(\.pnpm\/)?pg[@/-]/.test(u))).toEqual([]);
      // The control: the same start with node-b's cluster settings (its own root, so nothing clashes with the running node-b).
      const control = join(single.root, 'control');
      cpSync(join(nodes[1]!.root, 'keys'), join(control, 'keys'), { recursive: true });
      writeFileSync(join(control, 'harperdb-config.yaml'), ['http:', '  port: null', '  securePort: null', 'operationsApi:', '  network:', '    port: 9999', 'cluster:', '  nodeName: node-b', `  url: postgres://harper_tls@127.0.0.1:${engine.port}/harper_tls`, ''].join('\n'));
      // node-b runs, so this start is refused (node names are unique): after pg was loaded.
      const withCluster = await loaded(control);
      expect(withCluster.some((u) => /\/node_modules\/(\.pnpm\/)?pg@/.test(u))).toBe(true);
    } finally {
      single.cleanup();
    }
  });
});

/** The SHA-256 fingerprint of the certificate a node serves for `servername` (a real handshake; the chain is not what is checked here). */
function servedFingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no TLS handshake with 127.0.0.1:${port} within 10 s`)));
    socket.once('error', reject);
  });
}

/** One keep-alive TLS connection sending GET /whoami. */
class KeepAlive {
  socket?: tls.TLSSocket;
  /** TLS session tickets the server sent on this connection (to resume with later). */
  readonly tickets: Buffer[] = [];
  #buffer = '';
  #waiting?: () => void;
  constructor(
    readonly port: number,
    readonly client: { cert: Buffer; key: Buffer },
    readonly caFile: string,
    readonly session?: Buffer,
  ) {}
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: this.port, servername: 'localhost', ca: readFileSync(this.caFile), ...this.client, ALPNProtocols: ['http/1.1'], ...(this.session ? { session: this.session } : {}) }, () => resolve());
      socket.on('session', (t: Buffer) => this.tickets.push(t));
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        this.#buffer += d;
        this.#waiting?.();
      });
      socket.once('error', reject);
      this.socket = socket;
    });
  }
  async whoami(): Promise<{ status: number; body: any }> {
    this.#buffer = '';
    this.socket!.write('GET /whoami HTTP/1.1\r\nhost: localhost\r\n\r\n');
    const deadline = Date.now() + 10_000;
    for (;;) {
      const head = this.#buffer.indexOf('\r\n\r\n');
      if (head >= 0) {
        const length = Number(/content-length: (\d+)/i.exec(this.#buffer.slice(0, head))?.[1] ?? 0);
        if (this.#buffer.length >= head + 4 + length) return { status: Number(this.#buffer.slice(9, 12)), body: JSON.parse(this.#buffer.slice(head + 4, head + 4 + length)) };
      }
      if (Date.now() > deadline || this.socket!.destroyed) throw new Error(`no complete response: ${JSON.stringify(this.#buffer)}`);
      await new Promise<void>((r) => {
        this.#waiting = r;
        setTimeout(r, 500).unref();
      });
    }
  }
  close(): void {
    this.socket?.end();
  }
}
