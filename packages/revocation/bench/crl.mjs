#!/usr/bin/env node
// Large-CRL benchmark: load (read + parse + verify signature + index) a CRL made by
// `openssl ca -gencrl`, against `openssl crl` on the same file in the same run; memory added,
// lookup time, longest event-loop stall while parsing; pkijs as the other baseline.
//
//   pnpm --filter @harper-tls/revocation bench            # 1k, 10k, 100k, 1M entries (~2-3 min)
//   BENCH_QUICK=1 node bench/crl.mjs                       # without 1M, and without pkijs on 100k with raised limits (~40 s)
//   BENCH_SIZES=1000000 node bench/crl.mjs                 # only the sizes listed (comma-separated)
//
// CRLs are cached in $TMPDIR/harper-tls-crl-bench so a rerun skips generation.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DIST = join(HERE, '..', 'dist', 'index.js');
const DIR = join(tmpdir(), 'harper-tls-crl-bench');
const QUICK = Boolean(process.env.BENCH_QUICK);
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : QUICK ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000];
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** Serial i of the synthesized CRLs: 16 hex digits, distinct, spread. */
export const serialOf = (i) => (0x4000000000000000n + BigInt(i) * 0x9e3779b97f4an).toString(16).toUpperCase().padStart(18, '0');

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function makeCa() {
  mkdirSync(DIR, { recursive: true });
  if (existsSync(join(DIR, 'ca.pem'))) return;
  sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(DIR, 'ca.key'), '-out', join(DIR, 'ca.pem'), '-days', '3650', '-subj', '/CN=Bench CRL CA', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeCrl(n) {
  const out = join(DIR, `crl-${n}.der`);
  if (existsSync(out)) return out;
  const d = join(DIR, `ca-${n}`);
  mkdirSync(d, { recursive: true });
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(`R\t301231235959Z\t250101000000Z,keyCompromise\t${serialOf(i)}\tunknown\t/CN=revoked ${i}\n`);
  writeFileSync(join(d, 'index.txt'), lines.join(''));
  writeFileSync(join(d, 'crlnumber'), '1000\n');
  writeFileSync(
    join(d, 'ca.cnf'),
    `[ca]\ndefault_ca = bench\n[bench]\ndatabase = ${d}/index.txt\ncrlnumber = ${d}/crlnumber\ncertificate = ${DIR}/ca.pem\nprivate_key = ${DIR}/ca.key\ndefault_md = sha256\ndefault_crl_days = 7\ncrl_extensions = crl_ext\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n`,
  );
  const t0 = performance.now();
  sh('openssl', ['ca', '-config', join(d, 'ca.cnf'), '-gencrl', '-out', join(d, 'crl.pem')]);
  sh('openssl', ['crl', '-in', join(d, 'crl.pem'), '-outform', 'DER', '-out', out]);
  process.stderr.write(`generated ${n} entries with openssl ca -gencrl in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return out;
}

/** Wall time of a spawned openssl run, best of RUNS. */
function opensslMs(args) {
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const p = spawnSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (p.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${p.stderr}`);
    best = Math.min(best, ms);
  }
  return best;
}

/** Our load, measured in a fresh child process (clean heap): time, memory added, lookups, stall. */
function ours(file, n) {
  const p = spawnSync(process.execPath, ['--expose-gc', join(HERE, 'crl-child.mjs'), DIST, file, join(DIR, 'ca.pem'), String(n), String(RUNS)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (p.status !== 0) throw new Error(`crl-child failed: ${p.stderr}`);
  return JSON.parse(p.stdout.trim().split('\n').pop());
}

/** pkijs.CertificateRevocationList.fromBER, mode 'default' (asn1js's limits) or 'raised' (limits lifted). */
function pkijs(file, mode) {
  const p = spawnSync(process.execPath, [join(HERE, 'crl-pkijs.mjs'), file, mode], { encoding: 'utf8', timeout: 150_000 });
  if (p.status !== 0) return { error: ((p.stderr || 'timeout').split('\n').find((l) => /^\w*Error: /.test(l)) ?? (p.error ? String(p.error) : 'failed')).trim().slice(0, 160) };
  return JSON.parse(p.stdout.trim());
}

makeCa();
const started = new Date().toISOString();
const la0 = loadavg().map((x) => x.toFixed(2)).join(' ');
const rows = [];
for (const n of SIZES) {
  const file = makeCrl(n);
  const bytes = readFileSync(file).length;
  const o = ours(file, n);
  const osslParse = opensslMs(['crl', '-inform', 'DER', '-in', file, '-noout']);
  const osslVerify = opensslMs(['crl', '-inform', 'DER', '-in', file, '-noout', '-CAfile', join(DIR, 'ca.pem')]);
  const pk = n <= 100_000 ? pkijs(file, 'default') : { error: 'not run' };
  const pkRaised = n === 10_000 || (n === 100_000 && !QUICK) ? pkijs(file, 'raised') : undefined;
  rows.push({ n, bytes, o, osslParse, osslVerify, pk, pkRaised });
  process.stderr.write(`${n}: ours ${o.loadMs.toFixed(1)} ms, openssl ${osslParse.toFixed(1)} / ${osslVerify.toFixed(1)} ms\n`);
}

const mb = (b) => (b / 1048576).toFixed(1);
const lines = [];
lines.push(`Started ${started}; ${cpus().length} × ${cpus()[0]?.model}, ${mb(totalmem())} MiB, Node ${process.version}, ${execFileSync('openssl', ['version']).toString().trim()}.`);
lines.push(`Load average before: ${la0}, after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}. Best of ${RUNS} runs each.`);
lines.push('');
lines.push('| entries | DER size | ours: load (read+parse+verify+index) | openssl crl -noout | openssl crl -noout -CAfile (verifies) | **ours / openssl -CAfile** | ours / openssl (no verify) | memory added after GC: RSS / JS heap / arrayBuffers | lookup hit / miss | parseCrlAsync: longest event-loop gap, wall / process CPU in it (first call in the process; idle gap, same run) |');
lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const { n, bytes, o, osslParse, osslVerify } of rows) {
  lines.push(
    `| ${n.toLocaleString('en')} | ${mb(bytes)} MiB | ${o.loadMs.toFixed(1)} ms (parse ${o.parseMs.toFixed(1)}, verify ${o.verifyMs.toFixed(1)}) | ${osslParse.toFixed(1)} ms | ${osslVerify.toFixed(1)} ms | **${(o.loadMs / osslVerify).toFixed(2)}** | ${(o.loadMs / osslParse).toFixed(2)} | ${mb(o.rssAdded)} / ${mb(o.heapAdded)} / ${mb(o.buffersAdded)} MiB | ${o.hitNs.toFixed(0)} ns / ${o.missNs.toFixed(0)} ns | ${o.maxStallMs.toFixed(1)} / ${o.maxStallCpuMs.toFixed(1)} ms over ${o.asyncMs.toFixed(0)} ms (first call ${o.coldStallMs.toFixed(1)} ms; idle ${o.idleStallMs.toFixed(1)} ms; sync parse ${o.parseMs.toFixed(0)} ms) |`,
  );
}
lines.push('');
lines.push('| entries | pkijs fromBER, default asn1js limits | pkijs with raised limits (maxNodes 1e8) | ours (load) |');
lines.push('|---:|---:|---:|---:|');
const pkCell = (pk, o) => (!pk ? 'not run' : pk.error ? `fails: ${pk.error}` : `${pk.ms.toFixed(0)} ms, +${mb(pk.rssAdded)} MiB RSS (${(pk.ms / o.loadMs).toFixed(0)}× ours)`);
for (const { n, o, pk, pkRaised } of rows) lines.push(`| ${n.toLocaleString('en')} | ${pkCell(n <= 100_000 ? pk : undefined, o)} | ${pkCell(pkRaised, o)} | ${o.loadMs.toFixed(1)} ms |`);
console.log(lines.join('\n'));
