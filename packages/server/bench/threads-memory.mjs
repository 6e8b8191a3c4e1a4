// Memory for SPEC.md section 8: the memory (PSS, so pages shared between processes count once)
// that a 1,000,000-entry CRL adds to harper-tls with 1 and with 2 workers, for node:cluster
// (the real `harper-tls start` with threads.count 1 and 2) and for the worker_threads hand-off
// prototype (bench/threads-handoff.mjs with 1 and 2 threads). Each server: PSS of its process
// tree after 40 handshakes whose client certificates point at a 3-entry CRL, then after 40 more
// with certificates pointing at the big CRL (every worker has then loaded it); the difference is
// what the big CRL adds. Usage: node packages/server/bench/threads-memory.mjs (ENTRIES=1000000)
import http from 'node:http';
import { readFileSync, writeFileSync, mkdirSync, appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { out, sh, makePki, makeHarperRoot, startChild, stopChild, runLoad, load, machine, busyProcesses, mib, ratio } from './lib.mjs';

const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000);
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

// One CA; two client certificates: one whose CDP is the small CRL, one the big one (same CA, so the CRLs are its own).
const dir = join(out, 'pki-threads-mem');
makePki(dir, { keyType: 'ec', crlUrl: `${base}/small` });
crls.small = readFileSync(join(dir, 'crl.der'));
const bigDir = join(out, 'pki-threads-mem-big');
makePki(bigDir, { keyType: 'ec', crlUrl: `${base}/big` });
const lines = [];
for (let i = 0; i < ENTRIES; i++) {
  let s = (0x1000000 + i).toString(16).toUpperCase();
  if (s.length % 2) s = '0' + s;
  lines.push(`R\t301231235959Z\t261101000000Z,keyCompromise\t${s}\tunknown\t/CN=x`);
}
appendFileSync(join(bigDir, 'ca', 'index.txt'), lines.join('\n') + '\n');
lines.length = 0;
sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-gencrl', '-out', 'crl-big.pem'], bigDir);
sh('openssl', ['crl', '-in', 'crl-big.pem', '-outform', 'DER', '-out', 'crl.der'], bigDir);
crls.big = readFileSync(join(bigDir, 'crl.der'));

function tree(pid) {
  const pids = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) pids.push(...tree(Number(k)));
    }
  } catch {}
  return pids;
}
const pss = (pid) => tree(pid).reduce((a, p) => {
  try {
    return a + Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))[1]) * 1024;
  } catch {
    return a;
  }
}, 0);
const rss = (pid) => tree(pid).reduce((a, p) => {
  try {
    return a + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))[1]) * 1024;
  } catch {
    return a;
  }
}, 0);

// Both CAs trusted by the server: the two PKIs' CA files together.
const caBoth = join(out, 'threads-mem-ca.pem');
writeFileSync(caBoth, readFileSync(join(dir, 'ca.pem'), 'utf8') + readFileSync(join(bigDir, 'ca.pem'), 'utf8'));
const tls = `tls:\n  certificate: ${dir}/server.pem\n  privateKey: ${dir}/server.key\n  certificateAuthority: ${caBoth}\n`;
const settle = () => new Promise((r) => setTimeout(r, 1500));
const rows = [];
const variants = [
  ['cluster', 1, 'harper-cli.mjs'],
  ['cluster', 2, 'harper-cli.mjs'],
  ['worker_threads hand-off', 1, 'threads-handoff.mjs'],
  ['worker_threads hand-off', 2, 'threads-handoff.mjs'],
];
try {
  for (const [mech, n, script] of variants) {
    const root = makeHarperRoot(join(out, `threads-mem-root-${script}-${n}`), { dir, tls });
    const s = await startChild(script, { root, threads: n, port: 20000 + Math.floor(Math.random() * 20000) });
    const port = s.info.port;
    const small = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), path: '/whoami', expectStatus: 200, port };
    const big = { ca: join(dir, 'ca.pem'), cert: join(bigDir, 'client.pem'), key: join(bigDir, 'client.key'), path: '/whoami', expectStatus: 200, port };
    const a = await runLoad({ ...small, mode: 'burst', count: 40 });
    if (!a.completed) throw new Error(`${mech} ${n}: ${a.firstError}`);
    await settle();
    const before = { pss: pss(s.child.pid), rss: rss(s.child.pid) };
    const b = await runLoad({ ...big, mode: 'burst', count: 40 });
    if (!b.completed) throw new Error(`${mech} ${n} big: ${b.firstError}`);
    await runLoad({ ...big, mode: 'burst', count: 40 });
    await settle();
    const after = { pss: pss(s.child.pid), rss: rss(s.child.pid) };
    rows.push({ mech, n, before, after, added: after.pss - before.pss, addedRss: after.rss - before.rss });
    await stopChild(s.child);
  }
} finally {
  crlServer.close();
}
const added = (mech, n) => rows.find((r) => r.mech === mech && r.n === n)?.added;
const md = [
  `Command: \`ENTRIES=${ENTRIES} node packages/server/bench/threads-memory.mjs\``,
  `Started ${started.toISOString()}, ${Math.round((Date.now() - started) / 1000)} s; ${machine()}; load average before ${loadBefore}, after ${load()}; busiest at start: ${busyBefore.map((b) => '`' + b + '`').join(', ') || 'none'}.`,
  `Big CRL: ${ENTRIES.toLocaleString('en')} entries, ${mib(crls.big.length)} MiB DER. Downloads: small ${downloads.small ?? 0}, big ${downloads.big ?? 0} (for the ${variants.length} servers).`,
  '',
  '| mechanism | workers | PSS before MiB | PSS after MiB | **PSS added by the CRL MiB** | RSS added MiB (sum over processes) |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.mech} | ${r.n} | ${mib(r.before.pss)} | ${mib(r.after.pss)} | **${mib(r.added)}** | ${mib(r.addedRss)} |`),
  '',
  `- 2 workers / 1 worker, added PSS (goal ≤ 1.25): cluster **${ratio(added('cluster', 2), added('cluster', 1))}**, worker_threads hand-off **${ratio(added('worker_threads hand-off', 2), added('worker_threads hand-off', 1))}**.`,
  '',
];
writeFileSync(join(out, 'threads-memory.md'), md.join('\n'));
writeFileSync(join(out, 'threads-memory.json'), JSON.stringify({ rows }, null, 2));
process.stdout.write(md.join('\n'));
process.exit(0);
