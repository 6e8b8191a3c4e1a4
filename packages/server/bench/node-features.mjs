// How much of harper-tls's per-core gap to bare Node is Node itself doing what harper-tls asks of it?
// Bare Node https (bare-server.mjs) with each of harper-tls's Node-level settings and per-request
// habits turned on alone, then all together, next to `harper-tls start` with 1 worker; full mTLS
// handshakes and keep-alive requests, interleaved forward then backward (ROUNDS passes), server
// CPU per request from /proc.
// Usage: pnpm build, then node packages/server/bench/node-features.mjs   (SECONDS=2 CONCURRENCY=8 ROUNDS=4 KEY_TYPE=ec)
import http from 'node:http';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { out, makePki, makeHarperRoot, startChild, stopChild, measure, runLoad, load, machine } from './lib.mjs';

const SECONDS = Number(process.env.SECONDS ?? 2);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const KEY_TYPE = process.env.KEY_TYPE ?? 'ec';
const ALL = ['limits', 'timeout', 'rid', 'async', 'json', 'sni'];
mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
const dir = join(out, `pki-features-${KEY_TYPE}`);
const crlServer = http.createServer((_req, res) => res.end(readFileSync(join(dir, 'crl.der'))));
await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
makePki(dir, { keyType: KEY_TYPE, crlUrl: `http://127.0.0.1:${crlServer.address().port}/crl` });
const files = { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') };
const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200 };

const variants = [['bare', []], ...ALL.map((f) => [`bare + ${f}`, [f]]), ['bare + all of them', ALL]];
const servers = {};
for (const [name, features] of variants) servers[name] = await startChild('bare-server.mjs', { ...files, features });
const port = 20_000 + Math.floor(Math.random() * 20_000);
servers['harper-tls start'] = await startChild('harper-cli.mjs', { root: makeHarperRoot(join(dir, 'root'), { dir }), threads: 1, port });
const names = Object.keys(servers);
const pidOf = (n) => servers[n].info.pid ?? servers[n].child.pid;
for (const n of names) {
  const w = await runLoad({ ...client, port: servers[n].info.port, mode: 'handshake', seconds: 0.5, concurrency: 2 });
  if (!w.completed) throw new Error(`${n}: ${w.firstError}`);
}
const res = {};
for (const mode of ['handshake', 'keepalive']) {
  for (let round = 0; round < ROUNDS; round++) {
    for (const n of round % 2 ? [...names].reverse() : names) {
      const r = await measure(pidOf(n), { ...client, port: servers[n].info.port, mode, seconds: SECONDS, concurrency: CONCURRENCY });
      ((res[mode] ??= {})[n] ??= []).push((r.serverCpuMs * 1000) / r.completed);
    }
  }
}
for (const n of names) await stopChild(servers[n].child);
crlServer.close();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const lines = ['| server | handshake: server CPU µs [runs] | extra vs bare | bare ÷ this | keep-alive: server CPU µs/req [runs] | extra vs bare | bare ÷ this |', '|---|---|---|---|---|---|---|'];
const bare = { handshake: median(res.handshake.bare), keepalive: median(res.keepalive.bare) };
for (const n of names) {
  const cell = (mode, digits) => {
    const m = median(res[mode][n]);
    return [`${m.toFixed(digits)} [${res[mode][n].map((x) => x.toFixed(digits)).join(', ')}]`, n === 'bare' ? '' : (m - bare[mode]).toFixed(digits), (bare[mode] / m).toFixed(2)];
  };
  lines.push(`| ${n} | ${[...cell('handshake', 0), ...cell('keepalive', 1)].join(' | ')} |`);
}
const md = [
  `Command: \`SECONDS=${SECONDS} CONCURRENCY=${CONCURRENCY} ROUNDS=${ROUNDS} KEY_TYPE=${KEY_TYPE} node packages/server/bench/node-features.mjs\` (after \`pnpm build\`)`,
  `Started ${started.toISOString()}; ${machine()}; load average before ${loadBefore}, after ${load()}. Medians of ${ROUNDS} runs each.`,
  '',
  ...lines,
  '',
];
writeFileSync(join(out, `node-features-${KEY_TYPE}.md`), md.join('\n'));
process.stdout.write(md.join('\n'));
process.exit(0);
