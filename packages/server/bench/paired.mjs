// Before/after with paired runs: bare Node https, a bench/snapshot.mjs snapshot and the current
// build, interleaved per rep (bare, baseline, current, current, baseline, bare) REPS times, and
// the difference current - baseline taken per rep (the mean of its two runs) so that the drift
// of a shared machine between reps cancels out; prints each rep's difference and the median.
// Usage: node bench/snapshot.mjs before   (before the change), then after building the change:
//   BASELINE=before KEY_TYPE=ec MODES=handshake,keepalive REPS=6 SECONDS=2 node bench/paired.mjs
import http from 'node:http';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { out, makePki, makeHarperRoot, startChild, stopChild, measure, runLoad, load, machine } from './lib.mjs';

const SECONDS = Number(process.env.SECONDS ?? 2);
const REPS = Number(process.env.REPS ?? 6);
const KEY_TYPE = process.env.KEY_TYPE ?? 'ec';
const MODES = (process.env.MODES ?? 'handshake').split(',');
const BASELINE = process.env.BASELINE ?? 'before';
mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
const dir = join(out, `pki-paired-${KEY_TYPE}`);
const crlServer = http.createServer((req, res) => res.end(readFileSync(join(dir, 'crl.der'))));
await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
makePki(dir, { keyType: KEY_TYPE, crlUrl: `http://127.0.0.1:${crlServer.address().port}/crl` });
const files = { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') };
const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200 };
const module = join(out, 'snapshots', BASELINE, 'node_modules', '@harper-tls', 'server', 'dist', 'index.js');
const servers = {
  bare: await startChild('bare-server.mjs', files),
  [BASELINE]: await startChild('harper-server.mjs', { root: makeHarperRoot(join(dir, 'root-baseline'), { dir }), module }),
  current: await startChild('harper-server.mjs', { root: makeHarperRoot(join(dir, 'root-current'), { dir }) }),
};
const names = Object.keys(servers);
for (const n of names) {
  const w = await runLoad({ ...client, port: servers[n].info.port, mode: 'handshake', seconds: 0.5, concurrency: 2 });
  if (!w.completed) throw new Error(`${n}: ${w.firstError}`);
}
const res = {};
for (const mode of MODES) {
  for (let rep = 0; rep < REPS; rep++) {
    for (const n of [...names, ...[...names].reverse()]) {
      const r = await measure(servers[n].child.pid, { ...client, port: servers[n].info.port, mode, seconds: SECONDS, concurrency: 8 });
      if (r.failed) throw new Error(`${n}: ${r.failed} failed requests`);
      ((res[mode] ??= {})[n] ??= []).push(r);
    }
  }
}
for (const n of names) await stopChild(servers[n].child);
crlServer.close();
const med = (a) => {
  const b = [...a].sort((x, y) => x - y);
  return b.length % 2 ? b[b.length >> 1] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
};
const lines = [`| mode | server CPU µs/req, median of ${REPS * 2} runs: bare / ${BASELINE} / current | CPU ratio bare/${BASELINE} → bare/current (medians) | current − ${BASELINE} per rep, µs | **median** |`, '|---|---|---|---|---|'];
for (const mode of MODES) {
  const cpu = (n) => med(res[mode][n].map((r) => r.cpuPerReq * 1000));
  const A = res[mode][BASELINE];
  const B = res[mode].current;
  const pairs = [];
  for (let k = 0; k < A.length; k += 2) pairs.push(((B[k].cpuPerReq - A[k].cpuPerReq + B[k + 1].cpuPerReq - A[k + 1].cpuPerReq) / 2) * 1000);
  const dp = mode === 'keepalive' ? 1 : 0;
  lines.push(`| ${mode === 'handshake' ? 'full mTLS handshakes' : 'keep-alive requests'} | ${cpu('bare').toFixed(dp)} / ${cpu(BASELINE).toFixed(dp)} / ${cpu('current').toFixed(dp)} | ${(cpu('bare') / cpu(BASELINE)).toFixed(2)} → ${(cpu('bare') / cpu('current')).toFixed(2)} | ${pairs.map((x) => x.toFixed(dp)).join(', ')} | **${med(pairs).toFixed(dp)}** |`);
}
const md = [
  `Command: \`BASELINE=${BASELINE} KEY_TYPE=${KEY_TYPE} MODES=${MODES.join(',')} REPS=${REPS} SECONDS=${SECONDS} node packages/server/bench/paired.mjs\``,
  `Started ${started.toISOString()}; ${machine()}; load average before ${loadBefore}, after ${load()}. 8 concurrent connections from one load-generator process.`,
  '',
  ...lines,
  '',
];
writeFileSync(join(out, `paired-${KEY_TYPE}.md`), md.join('\n'));
process.stdout.write(md.join('\n'));
process.exit(0);
