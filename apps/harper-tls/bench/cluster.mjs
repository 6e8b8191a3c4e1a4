// Benchmark of SPEC.md section 10 (several nodes): a real PostgreSQL 15 (TLS, client-certificate
// auth, configured with docs/cluster.md's lines) and three harper-tls nodes started with the CLI
// (`harper-tls start`, separate processes) on 127.0.0.1. Measures:
//   - propagation of add_user / drop_user from node A to node C (TRIALS_USERS, default 200)
//   - a revocation on B refused on open keep-alive connections of A and C (TRIALS_REVOKE, default 100)
//   - 3 nodes x 100 concurrent local-CA issues -> distinct serials
//   - the NOTIFY connection killed (pg_terminate_backend) -> the change still arrives
//   - the engine SIGSTOPped for STALL_SECONDS (default 60): serving, writes 503, resync after SIGCONT
//   - handshake throughput of a cluster node vs a single node (full mTLS handshakes, interleaved)
// Usage: pnpm --filter harper-tls bench:cluster   (after pnpm build)
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, request } from 'node:https';
import http from 'node:http';
import tls from 'node:tls';
import { buildSync } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../..');
const TRIALS_USERS = Number(process.env.TRIALS_USERS ?? 200);
const TRIALS_REVOKE = Number(process.env.TRIALS_REVOKE ?? 100);
const STALL_SECONDS = Number(process.env.STALL_SECONDS ?? 60);
const HANDSHAKE_SECONDS = Number(process.env.HANDSHAKE_SECONDS ?? 3);

const work = mkdtempSync(join(tmpdir(), 'htls-bench-cluster-'));
// The test helper (TypeScript) compiled on the fly: one PostgreSQL setup for tests and bench.
const helper = join(repo, 'packages/store/test/helpers/postgres.ts');
buildSync({ entryPoints: [helper], format: 'esm', platform: 'node', outfile: join(work, 'postgres.mjs'), define: { 'import.meta.url': JSON.stringify(pathToFileURL(helper).href) }, logLevel: 'error' });
const { startEngine } = await import(pathToFileURL(join(work, 'postgres.mjs')).href);
const { ensureSelfSignedCertificates, createLocalCa } = await import(pathToFileURL(join(repo, 'packages/cert-gen/dist/index.js')).href);
const { loadConfig } = await import(pathToFileURL(join(repo, 'packages/config/dist/index.js')).href);
const { openClusterStores } = await import(pathToFileURL(join(repo, 'packages/store/dist/index.js')).href);
const CLI = join(repo, 'apps/harper-tls/dist/cli.js');

let nextPort = 20000 + Math.floor(Math.random() * 20000);
const port = () => nextPort++;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const basic = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const ADMIN = basic('admin', 'bench-admin-pw');
const cli = (args) => execFileSync(process.execPath, [CLI, ...args], { stdio: 'pipe' }).toString();
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const summary = (xs) => ({ n: xs.length, p50: +pct(xs, 50).toFixed(1), p99: +pct(xs, 99).toFixed(1), max: +Math.max(...xs).toFixed(1) });
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function post(n, body, auth = ADMIN) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port: n.ports.ops, method: 'POST', path: '/', agent: httpAgent, headers: { 'content-type': 'application/json', authorization: auth, 'content-length': Buffer.byteLength(data) }, timeout: 20_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}
function getJson(n, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: n.ports.http, path, agent: httpAgent, timeout: 20_000 }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    }).on('error', reject);
  });
}
async function until(cond, ms = 20_000) {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error('timed out');
  }
  return performance.now() - t0;
}

// --- setup: one CA copied to every node, node and engine certificates from `cluster issue-node`
const names = ['node-a', 'node-b', 'node-c'];
const nodes = names.map((name) => ({ name, root: join(work, name), ports: { http: port(), https: port(), ops: port() } }));
const single = { name: 'single', root: join(work, 'single'), ports: { http: port(), https: port(), ops: port() } };
for (const n of [...nodes, single]) mkdirSync(join(n.root, 'keys'), { recursive: true });
await ensureSelfSignedCertificates({ keysDir: join(nodes[0].root, 'keys') });
for (const n of [...nodes.slice(1), single]) for (const f of ['ca.pem', 'ca-privateKey.pem']) copyFileSync(join(nodes[0].root, 'keys', f), join(n.root, 'keys', f));
cli(['cluster', 'issue-node', '--root', nodes[0].root, '--name', 'node-a', '--engine', '127.0.0.1']);
for (const n of nodes.slice(1)) cli(['cluster', 'issue-node', '--root', n.root, '--name', n.name]);
const k = (f) => readFileSync(join(nodes[0].root, 'keys', f), 'utf8');
const engine = await startEngine({ caPem: k('ca.pem'), engineCertPem: k('engine.pem'), engineKeyPem: k('engine-key.pem') }, { port: port() });
const conf = (n, cluster) =>
  writeFileSync(
    join(n.root, 'harperdb-config.yaml'),
    ['http:', `  port: ${n.ports.http}`, `  securePort: ${n.ports.https}`, '  mtls:', '    required: false', '    certificateVerification: true', 'operationsApi:', '  network:', `    port: ${n.ports.ops}`, 'logging:', '  level: warn', ...(cluster ? ['cluster:', `  nodeName: ${n.name}`, `  url: ${engine.url}`, '  pollInterval: 2000'] : []), ''].join('\n'),
  );
for (const n of nodes) conf(n, true);
conf(single, false);
cli(['cluster', 'init', '--root', nodes[0].root]);

const children = [];
async function startNode(n) {
  const child = spawn(process.execPath, [CLI, 'start', '--root', n.root], { env: { ...process.env, HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'bench-admin-pw' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${n.name} did not start: ${out}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('operations ')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (c) => reject(new Error(`${n.name} exited ${c}: ${out}`)));
  });
  n.child = child;
}
const results = { machine: { cpus: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)), node: process.version, startedAt: new Date().toISOString(), note: process.env.BENCH_NOTE ?? null } };
try {
  for (const n of [...nodes, single]) await startNode(n);
  const [A, B, C] = nodes;

  // --- add_user / drop_user A -> C: from A's answer (committed) to C listing the change
  const listed = async (n, user) => (await post(n, { operation: 'list_users' })).body.some((u) => u.username === user);
  const add = [];
  const drop = [];
  for (let i = 0; i < TRIALS_USERS; i++) {
    const user = `u${i}`;
    const r = await post(A, { operation: 'add_user', username: user, password: 'pw-pw-pw', role: 'reader', active: true });
    if (r.status !== 200) throw new Error(`add_user ${r.status}`);
    add.push(await until(() => listed(C, user), 5000));
    const d = await post(A, { operation: 'drop_user', username: user });
    if (d.status !== 200) throw new Error(`drop_user ${d.status}`);
    drop.push(await until(async () => !(await listed(C, user)), 5000));
  }
  results.addUserAtoC = summary(add);
  results.dropUserAtoC = summary(drop);
  console.log('add_user A->C ms', results.addUserAtoC, 'drop_user A->C ms', results.dropUserAtoC);

  // --- the local CA over the shared store: 3 nodes x 100 concurrent issues (each "node" its own engine connection, as that node)
  const caFiles = { certificatePem: k('ca.pem'), privateKeyPem: k('ca-privateKey.pem') };
  const benchStores = [];
  for (const n of nodes) {
    const { config } = await loadConfig({ root: n.root, env: {}, homedir: tmpdir(), createIfMissing: false });
    benchStores.push(await openClusterStores({ cluster: config.cluster }));
  }
  const cas = benchStores.map((s) => createLocalCa({ ca: caFiles, store: s.localCa }));
  const t0 = performance.now();
  const issued = await Promise.all(cas.flatMap((ca) => Array.from({ length: 100 }, (_, i) => ca.issue({ cn: `concurrent-${i}` }))));
  const issueMs = performance.now() - t0;
  const serials = new Set(issued.map((c) => c.serialHex));
  const stored = Number(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE ns = 'local-ca' AND key LIKE 'issued:%'`));
  results.concurrentIssues = { issued: issued.length, distinctSerials: serials.size, recordsInEngine: stored, ms: Math.round(issueMs) };
  console.log('concurrent issues', results.concurrentIssues);

  // --- revocation on B -> open keep-alive mTLS connections on A and C refused
  const r0 = await post(A, { operation: 'add_user', username: 'dave', password: 'dave-pw', role: 'reader', active: true });
  if (r0.status !== 200) throw new Error('add dave');
  const certs = await Promise.all(Array.from({ length: TRIALS_REVOKE }, () => cas[0].issue({ cn: 'dave' })));
  const toA = [];
  const toC = [];
  for (const cert of certs) {
    const conns = await Promise.all([A, C].map((n) => keepAlive(n.ports.https, cert)));
    for (const c of conns) if ((await c.whoami()) !== 200) throw new Error('dave not accepted before revocation');
    const rv = await post(B, { operation: 'revoke_certificate', serial: cert.serialHex });
    if (rv.status !== 200) throw new Error(`revoke ${rv.status}`);
    const ts = await Promise.all(conns.map((c) => until(async () => (await c.whoami()) === 401, 5000)));
    toA.push(ts[0]);
    toC.push(ts[1]);
    for (const c of conns) c.close();
  }
  results.revokeBtoA = summary(toA);
  results.revokeBtoC = summary(toC);
  console.log('revocation B->A ms', results.revokeBtoA, 'B->C ms', results.revokeBtoC);
  const crls = await Promise.all(nodes.map((n) => new Promise((res) => http.get({ host: '127.0.0.1', port: n.ports.http, path: '/ca/crl' }, (r) => { const b = []; r.on('data', (d) => b.push(d)); r.on('end', () => res(Buffer.concat(b))); }))));
  results.crlIdentical = crls.every((c) => c.equals(crls[0]));

  // --- the NOTIFY connection killed: the change still arrives (change log on reconnect / poll)
  const kill = [];
  for (let i = 0; i < 10; i++) {
    engine.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'harper-tls node-c listen%'`);
    const user = `k${i}`;
    await post(A, { operation: 'add_user', username: user, password: 'pw-pw-pw', role: 'reader', active: true });
    kill.push(await until(() => listed(C, user), 10_000));
  }
  results.afterKilledNotify = summary(kill);
  console.log('after pg_terminate_backend ms', results.afterKilledNotify);

  // --- handshake throughput: full mTLS handshakes + GET /whoami, cluster node vs single node, interleaved
  // Each node's certificate from its own records (the single node's lmdb, the cluster's engine).
  const hsCert = await cas[0].issue({ cn: 'dave' });
  await post(single, { operation: 'add_user', username: 'dave', password: 'dave-pw', role: 'reader', active: true });
  cli(['cert', 'issue', '--root', single.root, '--cn', 'dave', '--out', join(work, 'single-dave')]);
  const singleCert = { certificatePem: readFileSync(join(work, 'single-dave', 'dave.pem'), 'utf8'), privateKeyPem: readFileSync(join(work, 'single-dave', 'dave-key.pem'), 'utf8') };
  const rate = async (n) => {
    const cert = n === single ? singleCert : hsCert;
    const end = performance.now() + HANDSHAKE_SECONDS * 1000;
    let count = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (performance.now() < end) {
        const c = await keepAlive(n.ports.https, cert);
        if ((await c.whoami()) === 200) count++;
        c.close();
      }
    }));
    return count / HANDSHAKE_SECONDS;
  };
  const hs = { cluster: [], single: [] };
  for (const order of [['single', 'cluster'], ['cluster', 'single'], ['single', 'cluster']]) for (const which of order) hs[which].push(await rate(which === 'single' ? single : A));
  const med = (xs) => pct(xs, 50);
  results.handshakes = { clusterPerS: Math.round(med(hs.cluster)), singlePerS: Math.round(med(hs.single)), ratio: +(med(hs.cluster) / med(hs.single)).toFixed(3) };
  console.log('handshakes/s', results.handshakes);

  // --- the engine stalled (SIGSTOP) for STALL_SECONDS
  await post(A, { operation: 'add_user', username: 'erin', password: 'erin-pw', role: 'reader', active: true });
  await until(() => listed(B, 'erin'));
  engine.pause();
  const stall = {};
  const stalledAt = performance.now();
  try {
    const w0 = performance.now();
    const w = await post(A, { operation: 'add_user', username: 'frank', password: 'frank-pw', role: 'reader', active: true });
    stall.writeStatus = w.status;
    stall.writeAnsweredMs = Math.round(performance.now() - w0);
    stall.degradedAfterMs = Math.round(await until(async () => (await getJson(B, '/health')).body.cluster === 'degraded', 20_000));
    let served = 0;
    let refused = 0;
    while (performance.now() - stalledAt < STALL_SECONDS * 1000) {
      const r = await post(B, { operation: 'list_users' }, basic('erin', 'erin-pw'));
      if (r.status === 403 || r.status === 200) served++;
      else refused++;
      await sleep(50);
    }
    stall.requestsServedWhileStalled = served;
    stall.requestsRefusedWhileStalled = refused;
  } finally {
    engine.resume();
  }
  const back = performance.now();
  stall.allOkAfterSigcontMs = Math.round(await until(async () => (await Promise.all(nodes.map((n) => getJson(n, '/health')))).every((r) => r.body.cluster === 'ok'), 30_000));
  const w2 = await post(A, { operation: 'add_user', username: 'frank', password: 'frank-pw', role: 'reader', active: true });
  stall.writeAfterStatus = w2.status;
  await until(() => listed(C, 'frank'));
  stall.changeOnCAfterSigcontMs = Math.round(performance.now() - back);
  stall.stalledSeconds = STALL_SECONDS;
  results.engineStalled = stall;
  console.log('engine SIGSTOP', stall);
  for (const s of benchStores) await s.close();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  await engine.stop();
  rmSync(work, { recursive: true, force: true });
}
writeFileSync(join(here, 'cluster-results.json'), JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
process.exit(0);

function keepAlive(p, cert) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: p, servername: 'localhost', ca: k('ca.pem'), cert: cert.certificatePem, key: cert.privateKeyPem, ALPNProtocols: ['http/1.1'] }, () => resolve(conn));
    let buffer = '';
    let wake;
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      buffer += d;
      wake?.();
    });
    socket.once('error', reject);
    const conn = {
      async whoami() {
        buffer = '';
        socket.write('GET /whoami HTTP/1.1\r\nhost: localhost\r\n\r\n');
        const deadline = Date.now() + 10_000;
        for (;;) {
          const head = buffer.indexOf('\r\n\r\n');
          if (head >= 0) {
            const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, head))?.[1] ?? 0);
            if (buffer.length >= head + 4 + length) return Number(buffer.slice(9, 12));
          }
          if (Date.now() > deadline || socket.destroyed) throw new Error(`no response: ${buffer}`);
          await new Promise((r) => {
            wake = r;
            setTimeout(r, 200).unref();
          });
        }
      },
      close: () => socket.destroy(),
    };
  });
}
void Agent;
void request;
