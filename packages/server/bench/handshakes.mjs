// Benchmark: full mTLS handshakes/s and keep-alive requests/s through harper-tls (mTLS required,
// revocation on, warm CRL cache) vs a bare Node https server with requestCert/rejectUnauthorized
// and no revocation, and vs nginx (ssl_verify_client on, ssl_crl, worker_processes 1) when it is
// installed. Same machine, same certificates, one run; the servers run side by side and the
// loads are interleaved (bare, harper, nginx, nginx, harper, bare) so that drifting background
// load hits every server alike. Besides requests/s it reports the server's CPU ms per request
// (from /proc), which is less sensitive to the load generator sharing the 2 cores.
// Usage: pnpm --filter @harper-tls/server bench   (or node bench/handshakes.mjs after a build)
// Knobs: SECONDS=3 CONCURRENCY=8 KEY_TYPES=ec,rsa MODES=handshake,keepalive PROFILE=<dir> (harper with --cpu-prof)
//   BASELINE=<name>: also runs the bench/snapshot.mjs snapshot <name> of harper-tls, interleaved with the others,
//   and prints a before/after table (both builds against the same bare server in the same run).
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { out, makePki, makeHarperRoot, startChild, stopChild, startNginx, measure, runLoad, load, machine, busyProcesses, ratio } from './lib.mjs';

const SECONDS = Number(process.env.SECONDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const KEY_TYPES = (process.env.KEY_TYPES ?? 'ec,rsa').split(',');
const PROFILE = process.env.PROFILE;
const MODES = (process.env.MODES ?? 'handshake,keepalive').split(',');
const BASELINE = process.env.BASELINE;

mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
const busyBefore = busyProcesses();

// The CRL distribution point of the client certificates, in this process (the loads run as
// asynchronous children, so it keeps answering). Counts downloads.
let crlFile;
let crlDownloads = 0;
const crlServer = http.createServer((req, res) => {
  crlDownloads++;
  res.writeHead(200, { 'content-type': 'application/pkix-crl' });
  res.end(readFileSync(crlFile));
});
await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
const crlPort = crlServer.address().port;

function sum(runs) {
  const completed = runs.reduce((a, r) => a + r.completed, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const cpu = runs.reduce((a, r) => a + r.serverCpuMs, 0);
  const failed = runs.reduce((a, r) => a + r.failed, 0);
  return {
    perSecond: Math.round(completed / seconds),
    runs: runs.map((r) => r.perSecond),
    cpuPerReq: completed ? cpu / completed : null,
    p50: Math.max(...runs.map((r) => r.p50 ?? 0)),
    p99: Math.max(...runs.map((r) => r.p99 ?? 0)),
    failed,
    firstError: runs.find((r) => r.firstError)?.firstError,
  };
}

const rows = [];
let nginxVersion = 'not installed';
try {
  for (const keyType of KEY_TYPES) {
    const dir = join(out, `pki-${keyType}`);
    makePki(dir, { keyType, crlUrl: `http://127.0.0.1:${crlPort}/${keyType}.crl` });
    crlFile = join(dir, 'crl.der');
    const root = makeHarperRoot(join(dir, 'root'), { dir });
    const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200 };

    crlDownloads = 0;
    const servers = {};
    servers.bare = await startChild('bare-server.mjs', { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') });
    servers.harper = await startChild('harper-server.mjs', { root }, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=harper-${keyType}.cpuprofile`] : []);
    if (BASELINE) {
      const module = join(out, 'snapshots', BASELINE, 'node_modules', '@harper-tls', 'server', 'dist', 'index.js');
      servers.baseline = await startChild('harper-server.mjs', { root: makeHarperRoot(join(dir, 'root-baseline'), { dir }), module });
    }
    let nginx;
    try {
      nginx = await startNginx(dir);
    } catch (err) {
      console.error(`nginx: ${err.message}`);
    }
    if (nginx) {
      servers.nginx = { child: nginx.child, info: { port: nginx.port } };
      nginxVersion = nginx.version;
    }
    const names = Object.keys(servers);
    // Warm-up: harper downloads the CRL once; every server gets one short run.
    for (const n of names) {
      const w = await runLoad({ ...client, port: servers[n].info.port, mode: 'handshake', seconds: 0.5, concurrency: 2 });
      if (!w.completed) throw new Error(`${n} answers no request: ${w.firstError}`);
    }
    const order = [...names, ...[...names].reverse()];
    const results = { handshake: {}, keepalive: {} };
    for (const mode of MODES) {
      for (const n of order) {
        const r = await measure(servers[n].child.pid, { ...client, port: servers[n].info.port, mode, seconds: SECONDS, concurrency: CONCURRENCY });
        (results[mode][n] ??= []).push(r);
      }
    }
    for (const n of names) await stopChild(servers[n].child);
    const agg = {};
    for (const mode of MODES) {
      agg[mode] = Object.fromEntries(names.map((n) => [n, sum(results[mode][n])]));
    }
    rows.push({ keyType, agg, crlDownloads });
  }
} finally {
  crlServer.close();
}

const loadAfter = load();
const label = (k) => (k === 'ec' ? 'ECDSA P-256' : 'RSA 2048');
const cell = (a) => (a ? `${a.perSecond} [${a.runs.join(', ')}]` : 'n/a');
const cpu = (a) => (a?.cpuPerReq != null ? a.cpuPerReq.toFixed(3) : 'n/a');
const lines = [
  '| key | scenario | bare Node https/s [runs] | harper-tls/s [runs] | **harper/bare** (goal ≥ 0.95) | nginx/s [runs] | harper/nginx | server CPU ms/req: bare / harper / nginx | CPU ratio bare/harper | harper p50 / p99 ms | failed (b/h/n) |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  for (const mode of MODES) {
    const { bare, harper, nginx } = r.agg[mode];
    lines.push(
      `| ${label(r.keyType)} | ${mode === 'handshake' ? 'full mTLS handshakes' : 'keep-alive requests'} | ${cell(bare)} | ${cell(harper)} | **${ratio(harper.perSecond, bare.perSecond)}** | ${cell(nginx)} | ${nginx ? ratio(harper.perSecond, nginx.perSecond) : 'n/a'} | ${cpu(bare)} / ${cpu(harper)} / ${cpu(nginx)} | ${bare.cpuPerReq && harper.cpuPerReq ? (bare.cpuPerReq / harper.cpuPerReq).toFixed(2) : 'n/a'} | ${harper.p50} / ${harper.p99} | ${bare.failed}/${harper.failed}/${nginx?.failed ?? '-'} |`,
    );
  }
}
if (BASELINE) {
  lines.push('', `Before/after: the snapshot \`${BASELINE}\` and the current build, against the same bare server in the same interleaved run.`, '');
  lines.push(`| key | scenario | ${BASELINE}/s [runs] | current/s [runs] | **${BASELINE}/bare** | **current/bare** | server CPU ms/req: bare / ${BASELINE} / current | CPU ratio bare/${BASELINE} → bare/current |`, '|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    for (const mode of MODES) {
      const { bare, harper, baseline } = r.agg[mode];
      lines.push(`| ${label(r.keyType)} | ${mode === 'handshake' ? 'full mTLS handshakes' : 'keep-alive requests'} | ${cell(baseline)} | ${cell(harper)} | **${ratio(baseline.perSecond, bare.perSecond)}** | **${ratio(harper.perSecond, bare.perSecond)}** | ${cpu(bare)} / ${cpu(baseline)} / ${cpu(harper)} | ${(bare.cpuPerReq / baseline.cpuPerReq).toFixed(2)} → ${(bare.cpuPerReq / harper.cpuPerReq).toFixed(2)} |`);
    }
  }
}
const errors = rows.flatMap((r) => Object.values(r.agg).flatMap((m) => Object.entries(m).filter(([, a]) => a.firstError).map(([n, a]) => `${label(r.keyType)} ${n}: ${a.firstError}`)));
const md = [
  `Command: \`${BASELINE ? `BASELINE=${BASELINE} ` : ''}MODES=${MODES.join(',')} SECONDS=${SECONDS} CONCURRENCY=${CONCURRENCY} KEY_TYPES=${KEY_TYPES.join(',')} node packages/server/bench/handshakes.mjs\` (after \`pnpm --filter @harper-tls/server... build\`)`,
  `Started ${started.toISOString()}, ${Math.round((Date.now() - started) / 1000)} s; ${machine()}; ${nginxVersion}.`,
  `Load average (1/5/15 min) before: ${loadBefore}, after: ${loadAfter}. Busiest processes at start: ${busyBefore.map((b) => '`' + b + '`').join(', ') || 'none'}.`,
  `Each cell: total requests / total seconds over its ${2} interleaved ${SECONDS}-s runs [each run]; ${CONCURRENCY} concurrent connections from one Node load-generator process. CRL downloads by harper-tls per key type: ${rows.map((r) => `${label(r.keyType)} ${r.crlDownloads}`).join(', ')} (warm cache for the measured runs).`,
  '',
  ...lines,
  '',
  ...(errors.length ? ['First errors: ' + errors.join('; '), ''] : []),
];
writeFileSync(join(out, 'handshakes.md'), md.join('\n'));
writeFileSync(join(out, 'handshakes.json'), JSON.stringify({ started, loadBefore, loadAfter, rows }, null, 2));
process.stdout.write(md.join('\n') + '\n');
process.exit(0);
