// Applications benchmark (SPEC.md section 6), keep-alive mTLS requests through each server, all
// in one run, loads interleaved (A B C D, D C B A) against drift:
//   proxy:  harper-tls `applications: [{path: /, upstream}]`  vs  nginx proxy_pass (upstream
//           keepalive, ssl_verify_client on, 1 worker)  vs  a minimal Node https + undici
//           Pool.stream proxy (node-proxy.mjs); the same upstream (upstream.mjs), certificates,
//           load generator. No CPU pinning for any of them (2 shared cores).
//   module: harper-tls with a hello-world fetch module, and with the same answer as a request
//           listener, vs bare Node https answering the same bytes (bare-server.mjs).
// Env: SECONDS_PER_RUN (default 5), CONCURRENCY (default 32), ROUNDS (default 4: A B C, C B A, ...).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyProcesses, load, machine, makePki, measure, out, ratio, runLoad, startChild, stopChild, track, which, here } from './lib.mjs';
import { spawn, spawnSync } from 'node:child_process';

const SECONDS = Number(process.env.SECONDS_PER_RUN ?? process.env.SECONDS ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const started = new Date();
const loadBefore = load();
const dir = join(out, 'pki-proxy');
makePki(dir, { keyType: 'ec' });
const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), expectStatus: 200 };

function harperRoot(name, applications) {
  const root = join(dir, name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'harperdb-config.yaml'),
    `http:\n  port: null\n  securePort: 1\n  mtls:\n    required: true\ntls:\n  certificate: ${dir}/server.pem\n  privateKey: ${dir}/server.key\n  certificateAuthority: ${dir}/ca.pem\noperationsApi:\n  network:\n    port: null\nlogging:\n  level: error\n  stdStreams: false\n  file: false\napplications:\n${applications}`,
  );
  return root;
}

async function startNginxProxy(upstreamPort) {
  const nginx = which('nginx');
  if (!nginx) throw new Error('nginx is not installed (Debian package nginx-light): the proxy benchmark compares against it');
  const prefix = join(dir, 'nginx');
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = `worker_processes 1;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log;\nevents { worker_connections 4096; }\nhttp {\n access_log off;\n client_body_temp_path ${prefix}/tmp; proxy_temp_path ${prefix}/tmp; fastcgi_temp_path ${prefix}/tmp; uwsgi_temp_path ${prefix}/tmp; scgi_temp_path ${prefix}/tmp;\n upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }\n server {\n  listen 127.0.0.1:${port} ssl;\n  ssl_certificate ${dir}/server.pem; ssl_certificate_key ${dir}/server.key;\n  ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on;\n  ssl_protocols TLSv1.2 TLSv1.3;\n  keepalive_requests 1000000; keepalive_timeout 65s;\n  location / {\n   proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";\n   proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Forwarded-Proto https; proxy_set_header X-Forwarded-Host $http_host;\n   proxy_set_header X-Forwarded-Client-Cert "Hash=$ssl_client_fingerprint;Subject=\\"$ssl_client_s_dn\\"";\n  }\n }\n}\n`;
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  const child = track(spawn(nginx, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  for (let i = 0; i < 100; i++) {
    const w = await runLoad({ ...client, port, path: '/', mode: 'keepalive', seconds: 0.2, concurrency: 1 }).catch(() => ({ completed: 0 }));
    if (w.completed) return { child, info: { port }, version: spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr.trim() };
    if (child.exitCode !== null) throw new Error('nginx exited');
  }
  throw new Error('nginx did not answer');
}

function sum(runs) {
  const completed = runs.reduce((a, r) => a + r.completed, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const cpu = runs.reduce((a, r) => a + r.serverCpuMs, 0);
  return {
    perSecond: Math.round(completed / seconds),
    runs: runs.map((r) => r.perSecond),
    cpuPerReq: completed ? cpu / completed : null,
    p50: Math.max(...runs.map((r) => r.p50 ?? 0)),
    p99: Math.max(...runs.map((r) => r.p99 ?? 0)),
    failed: runs.reduce((a, r) => a + r.failed, 0),
    firstError: runs.find((r) => r.firstError)?.firstError,
  };
}

async function compare(servers, path) {
  const names = Object.keys(servers);
  for (const n of names) {
    const w = await runLoad({ ...client, path, port: servers[n].info.port, mode: 'keepalive', seconds: 0.5, concurrency: 4 });
    if (!w.completed) throw new Error(`${n} answers no request: ${w.firstError}`);
  }
  const results = {};
  const order = [];
  for (let i = 0; i < ROUNDS; i++) order.push(...(i % 2 ? [...names].reverse() : names));
  for (const n of order) {
    const pid = servers[n].pid ?? servers[n].child.pid;
    (results[n] ??= []).push(await measure(pid, { ...client, path, port: servers[n].info.port, mode: 'keepalive', seconds: SECONDS, concurrency: CONCURRENCY }));
  }
  return Object.fromEntries(names.map((n) => [n, sum(results[n])]));
}

const upstream = await startChild('upstream.mjs', {});
const upstreamUrl = `http://127.0.0.1:${upstream.info.port}`;
const proxies = {
  harper: await startChild('harper-server.mjs', { root: harperRoot('root-proxy', `  - {path: /, upstream: "${upstreamUrl}"}\n`) }),
  nginx: await startNginxProxy(upstream.info.port),
  nodeUndici: await startChild('node-proxy.mjs', { upstream: upstreamUrl, key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') }),
};
const nginxVersion = proxies.nginx.version;
const proxy = await compare(proxies, '/api/x');
for (const p of Object.values(proxies)) await stopChild(p.child);
await stopChild(upstream.child);

const modules = {
  fetchModule: await startChild('harper-server.mjs', { root: harperRoot('root-fetch', `  - {path: /hello, module: "${join(here, 'hello-fetch.mjs')}"}\n`) }),
  listenerModule: await startChild('harper-server.mjs', { root: harperRoot('root-listener', `  - {path: /hello, module: "${join(here, 'hello-listener.mjs')}"}\n`) }),
  bare: await startChild('bare-server.mjs', { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') }),
};
const module = await compare(modules, '/hello');
for (const p of Object.values(modules)) await stopChild(p.child);

const cell = (r) => `${r.perSecond} [${r.runs.join(', ')}]`;
const cpu = (r) => (r.cpuPerReq != null ? r.cpuPerReq.toFixed(3) : 'n/a');
const lines = [
  `## Applications: proxy and module (keep-alive mTLS, ${CONCURRENCY} connections, ${SECONDS} s x ${ROUNDS} per server, interleaved)`,
  '',
  '| server | requests/s [runs] | p50 / p99 ms | server CPU ms/req | failed |',
  '|---|---|---|---|---|',
  ...Object.entries(proxy).map(([n, r]) => `| proxy: ${n} | ${cell(r)} | ${r.p50} / ${r.p99} | ${cpu(r)} | ${r.failed} |`),
  ...Object.entries(module).map(([n, r]) => `| module: ${n} | ${cell(r)} | ${r.p50} / ${r.p99} | ${cpu(r)} | ${r.failed} |`),
  '',
  `- proxy: harper/nginx requests/s **${ratio(proxy.harper.perSecond, proxy.nginx.perSecond)}** (goal ≥ 0.9), p99 harper/nginx **${ratio(proxy.harper.p99, proxy.nginx.p99)}** (goal ≤ 1.2); harper/node-undici **${ratio(proxy.harper.perSecond, proxy.nodeUndici.perSecond)}**; node-undici/nginx ${ratio(proxy.nodeUndici.perSecond, proxy.nginx.perSecond)}`,
  `- module: fetch/bare **${ratio(module.fetchModule.perSecond, module.bare.perSecond)}** (goal ≥ 0.9), listener/bare **${ratio(module.listenerModule.perSecond, module.bare.perSecond)}**`,
  `- CPU ms/req counts the server process only (nginx: its master + worker; not the upstream).`,
  '',
  `Started ${started.toISOString()}, ${Math.round((Date.now() - started) / 1000)} s; ${machine()}; ${nginxVersion}; load average before ${loadBefore}, after ${load()}; busiest processes after: ${busyProcesses().join(' | ')}.`,
];
console.log(lines.join('\n'));
for (const r of [...Object.values(proxy), ...Object.values(module)]) if (r.firstError) console.error(`first error: ${r.firstError}`);
process.exit(0);
