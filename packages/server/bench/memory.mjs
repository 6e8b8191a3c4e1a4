// Memory: resident memory (RSS) of harper-tls with 10 SNI contexts (tls as a list of 10
// certificates) and a 1,000,000-entry CRL loaded, vs the same server with a 3-entry CRL, vs the
// CRL file size, and a bare Node https server for reference. The big CRL is made by
// `openssl ca -gencrl` over a synthesized index.txt (1M lines `R <expiry> <revdate>,keyCompromise
// <serial> unknown /CN=x`). harper-tls loads a CRL when a client certificate's distribution point
// is first asked for, so each server gets one handshake (download + parse + store), then 200
// more, then a GC (--expose-gc) before the reading. Also compares handshakes/s with the big and
// the small CRL (interleaved), which shows whether a lookup depends on the CRL size.
// Usage: node bench/memory.mjs   (ENTRIES=1000000 SECONDS=2)
import http from 'node:http';
import { readFileSync, writeFileSync, mkdirSync, appendFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { out, sh, makePki, makeHarperRoot, startChild, stopChild, runLoad, measure, rssOf, load, machine, busyProcesses, mib, ratio } from './lib.mjs';

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000);
const SECONDS = Number(process.env.SECONDS ?? 2);
mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
const busyBefore = busyProcesses();

const crls = {};
const downloads = {};
const crlServer = http.createServer((req, res) => {
  const name = req.url.slice(1);
  downloads[name] = (downloads[name] ?? 0) + 1;
  res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': crls[name].length });
  res.end(crls[name]);
});
await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${crlServer.address().port}`;

// Two PKIs (same shape): one whose client certificates point at the small CRL, one at the big one.
const hosts = Array.from({ length: 9 }, (_, i) => `h${i}.bench.test`);
const pki = {};
for (const kind of ['small', 'big']) {
  const dir = join(out, `pki-mem-${kind}`);
  makePki(dir, { keyType: 'ec', crlUrl: `${base}/${kind}`, sniHosts: hosts });
  pki[kind] = dir;
}
// The 1M-entry CRL: synthesized index.txt lines, signed by openssl.
const t0 = performance.now();
const lines = [];
for (let i = 0; i < ENTRIES; i++) {
  let s = (0x1000000 + i).toString(16).toUpperCase();
  if (s.length % 2) s = '0' + s;
  lines.push(`R\t301231235959Z\t261101000000Z,keyCompromise\t${s}\tunknown\t/CN=x`);
}
appendFileSync(join(pki.big, 'ca', 'index.txt'), lines.join('\n') + '\n');
lines.length = 0;
sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-gencrl', '-out', 'crl-big.pem'], pki.big);
sh('openssl', ['crl', '-in', 'crl-big.pem', '-outform', 'DER', '-out', 'crl.der'], pki.big);
const genSeconds = ((performance.now() - t0) / 1000).toFixed(1);
crls.small = readFileSync(join(pki.small, 'crl.der'));
crls.big = readFileSync(join(pki.big, 'crl.der'));
const sizes = { smallDer: crls.small.length, bigDer: crls.big.length, bigPem: statSync(join(pki.big, 'crl-big.pem')).size };

function tlsList(dir) {
  const entries = [['server', ['localhost']], ...hosts.map((h, i) => [`sni${i}`, [h]])];
  return 'tls:\n' + entries.map(([n, hs]) => `  - certificate: ${dir}/${n}.pem\n    privateKey: ${dir}/${n}.key\n    certificateAuthority: ${dir}/ca.pem\n    host: [${hs.join(', ')}]\n`).join('');
}

const rows = [];
const servers = {};
try {
  for (const kind of ['small', 'big']) {
    const dir = pki[kind];
    const root = makeHarperRoot(join(dir, 'root'), { dir, tls: tlsList(dir) });
    const memFile = join(dir, 'mem.json');
    const s = await startChild('harper-server.mjs', { root, memFile }, ['--expose-gc']);
    servers[kind] = { ...s, dir, memFile };
    const atStart = rssOf(s.child.pid);
    const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200, port: s.info.port };
    const first = await runLoad({ ...client, mode: 'burst', count: 1 });
    if (!first.completed) throw new Error(`${kind}: ${first.firstError}`);
    const afterFirst = rssOf(s.child.pid);
    await runLoad({ ...client, mode: 'burst', count: 200 });
    // SNI: one handshake per configured host name.
    for (const h of hosts) {
      const r = await runLoad({ ...client, mode: 'burst', count: 1, servername: h });
      if (!r.completed) throw new Error(`SNI ${h}: ${r.firstError}`);
    }
    s.child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 1500));
    const heap = existsSync(memFile) ? JSON.parse(readFileSync(memFile, 'utf8')) : {};
    const steady = rssOf(s.child.pid);
    rows.push({ kind, atStart, afterFirst, steady, heap, firstMs: first.p50, downloads: downloads[kind] });
  }
  // Bare Node https (one context, no CRL) for reference.
  const bare = await startChild('bare-server.mjs', { key: join(pki.small, 'server.key'), cert: join(pki.small, 'server.pem'), ca: join(pki.small, 'ca.pem') });
  servers.bare = bare;
  await runLoad({ ca: join(pki.small, 'ca.pem'), cert: join(pki.small, 'client.pem'), key: join(pki.small, 'client.key'), path: '/whoami', expectStatus: 200, port: bare.info.port, mode: 'burst', count: 200 });
  const bareRss = rssOf(bare.child.pid);
  await stopChild(bare.child);

  // Handshakes/s with the big vs the small CRL (both warm), interleaved small, big, big, small.
  const hs = { small: [], big: [] };
  for (const kind of ['small', 'big', 'big', 'small']) {
    const { dir, child, info } = servers[kind];
    hs[kind].push(await measure(child.pid, { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200, port: info.port, mode: 'handshake', seconds: SECONDS, concurrency: 8 }));
  }
  const agg = (runs) => ({ ps: Math.round(runs.reduce((a, r) => a + r.completed, 0) / runs.reduce((a, r) => a + r.seconds, 0)), cpu: runs.reduce((a, r) => a + r.serverCpuMs, 0) / runs.reduce((a, r) => a + r.completed, 0), runs: runs.map((r) => r.perSecond) });
  const hsSmall = agg(hs.small);
  const hsBig = agg(hs.big);
  for (const k of ['small', 'big']) await stopChild(servers[k].child);

  const [small, big] = rows;
  const md = [
    `Command: \`ENTRIES=${ENTRIES} SECONDS=${SECONDS} node packages/server/bench/memory.mjs\``,
    `Started ${started.toISOString()}, ${Math.round((Date.now() - started) / 1000)} s (CRL generation ${genSeconds} s); ${machine()}; load average before ${loadBefore}, after ${load()}; busiest at start: ${busyBefore.map((b) => '`' + b + '`').join(', ') || 'none'}.`,
    `harper-tls with \`tls\` as a list of 10 certificates (localhost + ${hosts.length} SNI hosts, each handshaken once), mTLS required, CRL checking on; the client certificate's CDP points at a 127.0.0.1 server. CRL sizes: big ${ENTRIES.toLocaleString('en')} entries = ${mib(sizes.bigDer)} MiB DER (${mib(sizes.bigPem)} MiB PEM); small 3 entries = ${sizes.smallDer} bytes. Downloads: small ${small.downloads}, big ${big.downloads}.`,
    '',
    '| server | RSS at start MiB | RSS after 1st handshake (CRL loaded) MiB | RSS after 210 handshakes + GC MiB | of which anon / file-backed MiB | peak RSS (VmHWM) MiB | V8 heap used MiB | external + arrayBuffers MiB | 1st handshake ms |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| harper-tls, 10 SNI contexts, ${r.kind === 'big' ? `${ENTRIES.toLocaleString('en')}-entry CRL` : '3-entry CRL'} | ${mib(r.atStart.rss)} | ${mib(r.afterFirst.rss)} | ${mib(r.steady.rss)} | ${mib(r.steady.anon)} / ${mib(r.steady.file)} | ${mib(r.steady.hwm)} | ${r.heap.heapUsed ? mib(r.heap.heapUsed) : 'n/a'} | ${r.heap.external ? `${mib(r.heap.external)} + ${mib(r.heap.arrayBuffers)}` : 'n/a'} | ${r.firstMs} |`),
    `| bare Node https, 1 context, no CRL | | | ${mib(bareRss.rss)} | ${mib(bareRss.anon)} / ${mib(bareRss.file)} | ${mib(bareRss.hwm)} | | | |`,
    '',
    `- RSS cost of the ${ENTRIES.toLocaleString('en')}-entry CRL: **${mib(big.steady.rss - small.steady.rss)} MiB** steady (peak ${mib(big.steady.hwm - small.steady.hwm)} MiB more) for a ${mib(sizes.bigDer)} MiB DER file: ${((big.steady.rss - small.steady.rss) / sizes.bigDer).toFixed(2)} × the file size (${Math.round((big.steady.rss - small.steady.rss) / ENTRIES)} bytes per entry).`,
    `- Warm handshakes/s, big vs small CRL (interleaved, ${SECONDS} s runs): ${hsBig.ps} [${hsBig.runs.join(', ')}] vs ${hsSmall.ps} [${hsSmall.runs.join(', ')}] = **${ratio(hsBig.ps, hsSmall.ps)}**; server CPU ${hsBig.cpu.toFixed(3)} vs ${hsSmall.cpu.toFixed(3)} ms per handshake.`,
    '',
  ];
  writeFileSync(join(out, 'memory.md'), md.join('\n'));
  writeFileSync(join(out, 'memory.json'), JSON.stringify({ sizes, rows, bareRss, hsSmall, hsBig }, null, 2));
  process.stdout.write(md.join('\n'));
} finally {
  crlServer.close();
  for (const s of Object.values(servers)) await stopChild(s.child);
}
process.exit(0);
