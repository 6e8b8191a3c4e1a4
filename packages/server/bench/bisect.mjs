// Where does harper-tls's extra cost come from? Runs bare Node https, HarperServer with a no-op
// authenticate, HarperServer + mtls-auth (no revocation) and the full harper-tls server (CRL,
// warm cache) side by side, interleaved A B C D D C B A, and prints requests/s and server CPU
// ms per request for full handshakes and keep-alive requests.
// Usage: node bench/bisect.mjs   (SECONDS=3 CONCURRENCY=8 KEY_TYPE=ec)
import http from 'node:http';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { out, makePki, makeHarperRoot, startChild, stopChild, measure, runLoad, load, machine, ratio } from './lib.mjs';

const SECONDS = Number(process.env.SECONDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const KEY_TYPE = process.env.KEY_TYPE ?? 'ec';
mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
const dir = join(out, `pki-bisect-${KEY_TYPE}`);
let crlDownloads = 0;
const crlServer = http.createServer((req, res) => {
  crlDownloads++;
  res.end(readFileSync(join(dir, 'crl.der')));
});
await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
makePki(dir, { keyType: KEY_TYPE, crlUrl: `http://127.0.0.1:${crlServer.address().port}/crl` });
const root = makeHarperRoot(join(dir, 'root'), { dir });
const files = { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') };
const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200 };
const servers = {
  bare: await startChild('bare-server.mjs', files),
  'harper-noauth': await startChild('variant-server.mjs', { ...files, variant: 'harper-noauth' }),
  'harper-mtls': await startChild('variant-server.mjs', { ...files, variant: 'harper-mtls' }),
  'harper-full': await startChild('harper-server.mjs', { root }),
};
const names = Object.keys(servers);
for (const n of names) {
  const w = await runLoad({ ...client, port: servers[n].info.port, mode: 'handshake', seconds: 0.5, concurrency: 2 });
  if (!w.completed) throw new Error(`${n}: ${w.firstError}`);
}
const res = {};
for (const mode of ['handshake', 'keepalive']) {
  for (const n of [...names, ...[...names].reverse()]) {
    const r = await measure(servers[n].child.pid, { ...client, port: servers[n].info.port, mode, seconds: SECONDS, concurrency: CONCURRENCY });
    ((res[mode] ??= {})[n] ??= []).push(r);
  }
}
for (const n of names) await stopChild(servers[n].child);
crlServer.close();
const lines = ['| scenario | server | requests/s [runs] | vs bare | server CPU ms/req | extra CPU vs previous row, µs/req |', '|---|---|---|---|---|---|'];
for (const mode of ['handshake', 'keepalive']) {
  let prev;
  let bare;
  for (const n of names) {
    const runs = res[mode][n];
    const completed = runs.reduce((a, r) => a + r.completed, 0);
    const ps = Math.round(completed / runs.reduce((a, r) => a + r.seconds, 0));
    const cpu = runs.reduce((a, r) => a + r.serverCpuMs, 0) / completed;
    bare ??= ps;
    lines.push(`| ${mode === 'handshake' ? 'full mTLS handshakes' : 'keep-alive requests'} | ${n} | ${ps} [${runs.map((r) => r.perSecond).join(', ')}] | ${ratio(ps, bare)} | ${cpu.toFixed(3)} | ${prev === undefined ? '' : Math.round((cpu - prev) * 1000)} |`);
    prev = cpu;
  }
}
const md = [
  `Command: \`SECONDS=${SECONDS} CONCURRENCY=${CONCURRENCY} KEY_TYPE=${KEY_TYPE} node packages/server/bench/bisect.mjs\``,
  `Started ${started.toISOString()}; ${machine()}; load average before ${loadBefore}, after ${load()}. CRL downloads: ${crlDownloads}.`,
  '',
  ...lines,
  '',
];
writeFileSync(join(out, `bisect-${KEY_TYPE}.md`), md.join('\n'));
process.stdout.write(md.join('\n'));
process.exit(0);
