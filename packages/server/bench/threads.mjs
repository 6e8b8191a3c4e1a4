// Benchmark for SPEC.md section 8: full mTLS handshakes/s and keep-alive requests/s of harper-tls
// with threads.count 1 and 2 (the real `harper-tls start`: one process, or node:cluster primary +
// workers), the worker_threads hand-off prototype with 2 threads (bench/threads-handoff.mjs, the
// mechanism not chosen), nginx with worker_processes 1 and 2 (ssl_verify_client on, ssl_crl) and
// bare Node https (1 process, and a 2-worker node:cluster). Same certificates (ECDSA P-256), one
// run, loads interleaved (each server twice, in order then reversed). Reports requests/s,
// server CPU ms per request and requests per server CPU-second (the load generator shares the
// cores), and the 1 → 2 scaling.
// Usage: node packages/server/bench/threads.mjs (after pnpm build). Knobs: SECONDS=3 CONCURRENCY=8 MODES=handshake,keepalive
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { out, makePki, makeHarperRoot, startChild, stopChild, startNginx, measure, runLoad, load, machine, busyProcesses, ratio } from './lib.mjs';

const SECONDS = Number(process.env.SECONDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const MODES = (process.env.MODES ?? 'handshake,keepalive').split(',');
mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
const busyBefore = busyProcesses();

const dir = join(out, 'pki-threads');
let crlDownloads = 0;
const crlServer = http.createServer((req, res) => {
  crlDownloads++;
  res.writeHead(200, { 'content-type': 'application/pkix-crl' });
  res.end(readFileSync(join(dir, 'crl.der')));
});
await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
makePki(dir, { keyType: 'ec', crlUrl: `http://127.0.0.1:${crlServer.address().port}/ec.crl` });
const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200 };
const freePort = () => 20000 + Math.floor(Math.random() * 20000);

const servers = {};
let nginxVersion = 'not installed';
const rows = {};
try {
  servers['bare 1'] = await startChild('bare-server.mjs', { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') });
  servers['bare 2'] = await startChild('bare-cluster.mjs', { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem'), workers: 2, port: freePort() });
  servers['harper 1'] = await startChild('harper-cli.mjs', { root: makeHarperRoot(join(dir, 'root-1'), { dir }), threads: 1, port: freePort() });
  servers['harper 2'] = await startChild('harper-cli.mjs', { root: makeHarperRoot(join(dir, 'root-2'), { dir }), threads: 2, port: freePort() });
  servers['handoff 2'] = await startChild('threads-handoff.mjs', { root: makeHarperRoot(join(dir, 'root-h'), { dir }), threads: 2 });
  for (const w of [1, 2]) {
    // A random port may be taken by another run on this machine: a few tries.
    let n;
    for (let i = 0; i < 3 && !n; i++) n = await startNginx(dir, { workers: w }).catch((e) => (i === 2 ? Promise.reject(e) : undefined));
    if (n) {
      servers[`nginx ${w}`] = { child: n.child, info: { port: n.port } };
      nginxVersion = n.version;
    }
  }
  const names = Object.keys(servers);
  for (const n of names) {
    const w = await runLoad({ ...client, port: servers[n].info.port, mode: 'handshake', seconds: 0.5, concurrency: 4 });
    if (!w.completed) throw new Error(`${n} answers no request: ${w.firstError}`);
  }
  const order = [...names, ...[...names].reverse()];
  for (const mode of MODES) {
    rows[mode] = {};
    for (const n of order) {
      const r = await measure(servers[n].child.pid, { ...client, port: servers[n].info.port, mode, seconds: SECONDS, concurrency: CONCURRENCY });
      (rows[mode][n] ??= []).push(r);
    }
  }
} finally {
  for (const s of Object.values(servers)) await stopChild(s.child);
  crlServer.close();
}

const agg = (runs) => {
  const completed = runs.reduce((a, r) => a + r.completed, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const cpu = runs.reduce((a, r) => a + r.serverCpuMs, 0);
  return { perSecond: Math.round(completed / seconds), runs: runs.map((r) => r.perSecond), cpuPerReq: completed ? cpu / completed : null, perCpuSecond: cpu ? Math.round((completed / cpu) * 1000) : null, failed: runs.reduce((a, r) => a + r.failed, 0), firstError: runs.find((r) => r.firstError)?.firstError };
};
const lines = ['| scenario | server | req/s [runs] | server CPU ms/req | req per server CPU-s | failed |', '|---|---|---|---|---|---|'];
const summary = ['| scenario | harper 2 / harper 1 (req/s) | harper 2 / harper 1 (req per CPU-s) | harper / nginx, 1 worker | harper / nginx, 2 workers | harper / bare, 1 | harper / bare, 2 | handoff 2 / harper 2 (req/s, CPU) |', '|---|---|---|---|---|---|---|---|'];
const out2 = {};
for (const mode of MODES) {
  const a = Object.fromEntries(Object.entries(rows[mode]).map(([n, r]) => [n, agg(r)]));
  out2[mode] = a;
  const scen = mode === 'handshake' ? 'full mTLS handshakes' : 'keep-alive requests';
  for (const [n, x] of Object.entries(a)) lines.push(`| ${scen} | ${n} | ${x.perSecond} [${x.runs.join(', ')}] | ${x.cpuPerReq?.toFixed(3)} | ${x.perCpuSecond} | ${x.failed} |`);
  const g = (n, k) => a[n]?.[k];
  summary.push(
    `| ${scen} | ${ratio(g('harper 2', 'perSecond'), g('harper 1', 'perSecond'))} | ${ratio(g('harper 2', 'perCpuSecond'), g('harper 1', 'perCpuSecond'))} | ${ratio(g('harper 1', 'perSecond'), g('nginx 1', 'perSecond'))} (CPU ${ratio(g('harper 1', 'perCpuSecond'), g('nginx 1', 'perCpuSecond'))}) | ${ratio(g('harper 2', 'perSecond'), g('nginx 2', 'perSecond'))} (CPU ${ratio(g('harper 2', 'perCpuSecond'), g('nginx 2', 'perCpuSecond'))}) | ${ratio(g('harper 1', 'perSecond'), g('bare 1', 'perSecond'))} (CPU ${ratio(g('harper 1', 'perCpuSecond'), g('bare 1', 'perCpuSecond'))}) | ${ratio(g('harper 2', 'perSecond'), g('bare 2', 'perSecond'))} (CPU ${ratio(g('harper 2', 'perCpuSecond'), g('bare 2', 'perCpuSecond'))}) | ${ratio(g('handoff 2', 'perSecond'), g('harper 2', 'perSecond'))}, ${ratio(g('handoff 2', 'perCpuSecond'), g('harper 2', 'perCpuSecond'))} |`,
  );
}
const md = [
  `Command: \`MODES=${MODES.join(',')} SECONDS=${SECONDS} CONCURRENCY=${CONCURRENCY} node packages/server/bench/threads.mjs\``,
  `Started ${started.toISOString()}, ${Math.round((Date.now() - started) / 1000)} s; ${machine()}; ${nginxVersion}. Load average before: ${loadBefore}, after: ${load()}. Busiest processes at start: ${busyBefore.map((b) => '`' + b + '`').join(', ') || 'none'}.`,
  `Each server twice per scenario (interleaved), ${SECONDS} s each, ${CONCURRENCY} connections from one Node load-generator process; ECDSA P-256; mTLS required, CRL checking on (warm cache; CRL downloads: ${crlDownloads} for the three harper-tls servers). Server CPU = user + system of the server's whole process tree (primary and workers; nginx master and workers).`,
  '',
  ...summary,
  '',
  ...lines,
  '',
];
writeFileSync(join(out, 'threads.md'), md.join('\n'));
writeFileSync(join(out, 'threads.json'), JSON.stringify({ started, rows: out2 }, null, 2));
process.stdout.write(md.join('\n') + '\n');
process.exit(0);
