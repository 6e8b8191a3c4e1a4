#!/usr/bin/env node
// Soak: SOAK_MINUTES (default 10) of mixed mTLS handshakes against a `harper-tls start` child:
// a good user (200 as the user), a revoked certificate (401 revoked) and a trusted certificate of
// an unknown user (401 Login failed). Every request is a new TLS connection (agent: false, no
// session reuse), SOAK_CONCURRENCY (default 8) in flight. Every answer is checked. RSS and open
// fds of the server are sampled every 10 s. Exits 1 on any wrong decision, on RSS growth beyond
// SOAK_RSS_BOUND_MB (default 64 MiB over the first sample under load) or on fd growth beyond 16.
//
//   node apps/harper-tls/scripts/soak.mjs            (after `pnpm --filter harper-tls build`)
//   SOAK_MINUTES=0.2 node apps/harper-tls/scripts/soak.mjs
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../dist/cli.js');
const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);
const RSS_BOUND = Number(process.env.SOAK_RSS_BOUND_MB ?? 64) * 2 ** 20;
const FD_BOUND = 16;
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_MS ?? 10_000);
const ADMIN = { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'soak-admin-pw' };

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cli = (args) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: tmpdir(), ...ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] });

const root = mkdtempSync(join(tmpdir(), 'harper-tls-soak-'));
let server;
const cleanup = () => {
  try {
    server?.kill('SIGKILL');
  } catch {}
  if (!process.env.SOAK_KEEP) rmSync(root, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));

const ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
writeFileSync(
  join(root, 'harperdb-config.yaml'),
  ['http:', `  port: ${ports.http}`, `  securePort: ${ports.https}`, '  mtls:', '    required: false', `    certificateVerification: ${JSON.stringify({ failureMode: 'fail-closed', crl: { cacheTtl: 30_000 }, ocsp: false })}`, 'operationsApi:', '  network:', `    port: ${ports.ops}`, 'logging:', '  level: warn', ''].join('\n'),
);

function startServer() {
  const proc = spawn(process.execPath, [CLI, 'start', '--root', root], { env: { PATH: process.env.PATH, HOME: tmpdir(), ...ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  proc.logs = () => err;
  proc.ready = (async () => {
    for (let i = 0; i < 600; i++) {
      if (out.includes('operations ')) return;
      if (proc.exitCode !== null) throw new Error(`server exited: ${err}`);
      await sleep(50);
    }
    throw new Error(`server did not start: ${out}\n${err}`);
  })();
  return proc;
}

function op(body) {
  return new Promise((res, rej) => {
    const data = JSON.stringify(body);
    const req = httpRequest({ host: '127.0.0.1', port: ports.ops, method: 'POST', path: '/', auth: `${ADMIN.HDB_ADMIN_USERNAME}:${ADMIN.HDB_ADMIN_PASSWORD}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (r) => {
      let t = '';
      r.on('data', (d) => (t += d));
      r.on('end', () => (r.statusCode === 200 ? res(t) : rej(new Error(`${body.operation}: ${r.statusCode} ${t}`))));
    });
    req.on('error', rej);
    req.end(data);
  });
}

server = startServer();
await server.ready;
const out = join(root, 'clients');
for (const cn of ['good', 'revoked', 'nobody']) cli(['cert', 'issue', '--root', root, '--cn', cn, '--out', out]);
await op({ operation: 'add_user', username: 'good', password: 'good-pw-1', role: 'reader', active: true });
await op({ operation: 'add_user', username: 'revoked', password: 'revoked-pw-1', role: 'reader', active: true });
cli(['cert', 'revoke', '--root', root, join(out, 'revoked.pem'), '--reason', 'keyCompromise']);

const ca = readFileSync(join(root, 'keys', 'ca.pem'));
const kinds = ['good', 'revoked', 'nobody'].map((cn) => ({ cn, cert: readFileSync(join(out, `${cn}.pem`)), key: readFileSync(join(out, `${cn}-key.pem`)) }));
const expected = {
  good: { status: 200, body: { username: 'good', role: 'reader', authenticatedBy: 'mtls' } },
  revoked: { status: 401, body: { error: 'Certificate revoked or verification failed' } },
  nobody: { status: 401, body: { error: 'Login failed' } },
};

function once(kind) {
  return new Promise((res) => {
    const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port: ports.https, path: '/whoami', ca, cert: kind.cert, key: kind.key, agent: false, timeout: 20_000 }, (r) => {
      let t = '';
      r.on('data', (d) => (t += d));
      r.on('end', () => res({ status: r.statusCode, body: t }));
      r.on('error', (e) => res({ status: -1, body: String(e) }));
    });
    req.on('error', (e) => res({ status: -1, body: String(e) }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function judge(kind, r) {
  const e = expected[kind.cn];
  let body;
  try {
    body = JSON.parse(r.body);
  } catch {
    return false;
  }
  return r.status === e.status && JSON.stringify(body) === JSON.stringify(e.body);
}

// The revocation becomes visible once the server's CRL (cacheTtl 30 s) is fetched after the revoke;
// the server had not fetched it before, so the first check already sees it. Verify once up front.
for (const k of kinds) {
  const r = await once(k);
  if (!judge(k, r)) {
    console.error(`pre-check failed for ${k.cn}: ${r.status} ${r.body}`);
    process.exit(1);
  }
}

const pid = server.pid;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const fds = () => readdirSync(`/proc/${pid}/fd`).length;
const samples = [];
const sample = () => samples.push({ t: Date.now(), rss: rss(), fds: fds() });
sample();

const counts = { good: 0, revoked: 0, nobody: 0 };
const wrong = [];
let errors = 0;
const t0 = Date.now();
const end = t0 + MINUTES * 60_000;
let i = 0;
const timer = setInterval(() => {
  sample();
  const s = samples.at(-1);
  const total = counts.good + counts.revoked + counts.nobody;
  console.log(`${((s.t - t0) / 1000).toFixed(0)} s: ${total} requests (${(total / ((s.t - t0) / 1000)).toFixed(0)}/s), wrong ${wrong.length}, rss ${(s.rss / 2 ** 20).toFixed(1)} MiB, fds ${s.fds}`);
}, SAMPLE_MS);

async function worker() {
  while (Date.now() < end && server.exitCode === null) {
    const k = kinds[i++ % 3];
    const r = await once(k);
    if (r.status === -1) errors++;
    if (!judge(k, r)) {
      if (wrong.length < 20) wrong.push(`${k.cn}: ${r.status} ${r.body.slice(0, 200)}`);
      else wrong.push('');
    }
    counts[k.cn]++;
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
clearInterval(timer);
const alive = server.exitCode === null;
// Let sockets in TIME_WAIT/closing on the server side go before the last fd sample.
await sleep(1000);
if (alive) sample();
const secs = (Date.now() - t0) / 1000;
const total = counts.good + counts.revoked + counts.nobody;
// The bound is over the first sample under load (after SAMPLE_MS of warm-up: JIT, TLS buffers, CRL cache).
const idle = samples[0];
const first = samples.length > 2 ? samples[1] : samples[0];
const last = samples.at(-1);
const maxRss = Math.max(...samples.map((s) => s.rss));
const mib = (b) => (b / 2 ** 20).toFixed(1);
const problems = [];
if (!alive) problems.push(`server exited (${server.exitCode}): ${server.logs().slice(-2000)}`);
if (wrong.length) problems.push(`${wrong.length} wrong decisions, first: ${wrong.filter(Boolean).slice(0, 5).join(' | ')}`);
if (maxRss - first.rss > RSS_BOUND) problems.push(`RSS grew ${mib(maxRss - first.rss)} MiB (bound ${mib(RSS_BOUND)} MiB)`);
if (last.fds - first.fds > FD_BOUND) problems.push(`fds grew from ${first.fds} to ${last.fds} (bound +${FD_BOUND})`);
console.log(
  JSON.stringify({
    minutes: MINUTES,
    seconds: Math.round(secs),
    concurrency: CONCURRENCY,
    requests: total,
    perSecond: Math.round(total / secs),
    counts,
    wrongDecisions: wrong.length,
    connectionErrors: errors,
    rssMiB: { idle: mib(idle.rss), start: mib(first.rss), max: mib(maxRss), end: mib(last.rss), bound: `+${mib(RSS_BOUND)}` },
    fds: { idle: idle.fds, start: first.fds, end: last.fds, max: Math.max(...samples.map((s) => s.fds)), bound: `+${FD_BOUND}` },
    serverStderrLines: server.logs().split('\n').filter(Boolean).length,
    samples: samples.length,
  }),
);
if (problems.length) {
  console.error(`SOAK FAILED:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('soak ok');
process.exit(0);
