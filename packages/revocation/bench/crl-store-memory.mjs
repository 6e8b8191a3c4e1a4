#!/usr/bin/env node
// What a big downloaded CRL costs in memory once the checker has it, step by step, each step in a
// fresh child process (node --expose-gc): fetchBytes + parseCrlAsync alone; the checker without a
// store; the checker with the server's lmdb store (bytesStore); the same plus the server's metrics
// wrapper (a copy of instrumentedStore: it re-parses each stored CRL in the background); and a
// restart (a new process reading the CRL the previous step stored). Reported: process.memoryUsage()
// after 3 forced GCs minus the same before the CRL was asked for (RSS / arrayBuffers / JS heap),
// and the peak RSS (VmHWM) minus the RSS before.
//
//   ENTRIES=1000000 node packages/server/bench/memory.mjs   # once: makes the PKI and the 1M-entry CRL
//   pnpm --filter @harper-tls/revocation build && pnpm --filter @harper-tls/server build
//   node packages/revocation/bench/crl-store-memory.mjs [PKI_DIR]   # default packages/server/bench-out/pki-mem-big
//   CHUNKED=1 ...   # the CRL server sends no content-length (chunked body)
//   STEPS=parse,lmdb ...   # only these steps; SMAPS=1: also which mappings grew (stderr); SNAPSHOT=dir: a heap snapshot per step
//   BENCH_DIST=path/to/index.js ...   # another build of @harper-tls/revocation
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REVOCATION = process.env.BENCH_DIST ?? join(HERE, '..', 'dist', 'index.js');
const SERVER = join(HERE, '..', '..', 'server', 'dist', 'index.js');
const MiB = (x) => (x / 1048576).toFixed(1);

function vmHwm() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Mappings of this process with their resident size (/proc/self/smaps). */
function maps() {
  const out = [];
  let cur;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) out.push((cur = { start: m[1], size: parseInt(m[2], 16) - parseInt(m[1], 16), name: m[3] || 'anon', rss: 0 }));
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r && cur) cur.rss = Number(r[1]) * 1024;
  }
  return out;
}

if (process.argv[2] === 'child') {
  const [, , , step, dir, url, root] = process.argv;
  const rev = await import(REVOCATION);
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      global.gc();
      await new Promise((r) => setImmediate(r));
    }
    return process.memoryUsage();
  };
  // Whatever the CDP in the certificate says, download from the bench's server.
  const fetchTo = (u, init) => fetch(url, init);
  const chain = [readFileSync(join(dir, 'client.pem')), readFileSync(join(dir, 'ca.pem'))];
  const config = { enabled: true, failureMode: 'fail-closed', crl: { enabled: true, timeout: 60_000, cacheTtl: 86_400_000, gracePeriod: 86_400_000, failureMode: 'fail-closed' }, ocsp: { enabled: false, timeout: 5000, cacheTtl: 3_600_000, errorCacheTtl: 300_000, failureMode: 'fail-closed' } };
  let db;
  let store;
  if (step !== 'parse' && step !== 'checker') {
    const server = await import(SERVER);
    db = server.openServerDatabase(root);
    store = server.bytesStore(db.revocation);
    if (step.endsWith('metrics')) store = instrumented(store, rev.parseCrlAsync);
  }
  const before = await settle();
  const mapsBefore = process.env.SMAPS ? maps() : undefined;
  let keep;
  if (step === 'parse') {
    const der = await rev.fetchBytes(url, { timeoutMs: 60_000, maxBytes: 256 * 1048576 });
    keep = await rev.parseCrlAsync(der);
  } else {
    const checker = rev.createRevocationChecker({ config, fetch: fetchTo, store });
    const verdict = await checker.check(chain, { noFetch: step.startsWith('restart') });
    if (verdict.certificates[0].method !== 'crl' || verdict.certificates[0].status !== 'good') throw new Error(`unexpected verdict ${JSON.stringify(verdict.certificates[0])}`);
    keep = checker;
  }
  // Let the store write (and the metrics wrapper's parse) finish.
  await new Promise((r) => setTimeout(r, 1500));
  if (db) await db.revocation.flushed;
  const after = await settle();
  const peak = vmHwm();
  if (mapsBefore) {
    const b = new Map(mapsBefore.map((m) => [m.start, m]));
    const rows = maps().map((m) => ({ ...m, d: m.rss - (b.get(m.start)?.rss ?? 0) })).filter((m) => Math.abs(m.d) > 1 << 20).sort((x, y) => y.d - x.d);
    for (const m of rows) console.error(step, m.name, 'size', MiB(m.size), 'rss', MiB(m.rss), 'delta', MiB(m.d));
  }
  if (process.env.SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(join(process.env.SNAPSHOT, `${step}.heapsnapshot`));
  console.log(JSON.stringify({ step, rss: after.rss - before.rss, arrayBuffers: after.arrayBuffers - before.arrayBuffers, heap: after.heapUsed - before.heapUsed, heapTotal: after.heapTotal - before.heapTotal, peak: peak - before.rss, kept: typeof keep }));
  if (db) await db.close();
  process.exit(0);
}

/** A copy of the server's instrumentedStore (packages/server/src/revocation-metrics.ts). */
function instrumented(store, parseCrlAsync) {
  const learn = (key, value) => {
    if (!value || !key.startsWith('crl:') || value.length < 9) return;
    setImmediate(() => {
      parseCrlAsync(value.subarray(8)).then(
        () => undefined,
        () => undefined,
      );
    });
  };
  return {
    async get(key) {
      const v = await store.get(key);
      learn(key, v);
      return v;
    },
    async put(key, value) {
      learn(key, value);
      return store.put(key, value);
    },
  };
}

const dir = process.argv[2] ?? join(HERE, '..', '..', 'server', 'bench-out', 'pki-mem-big');
const der = readFileSync(join(dir, 'crl.der'));
const chunked = process.env.CHUNKED === '1';
const server = createServer((req, res) => {
  res.writeHead(200, chunked ? { 'content-type': 'application/pkix-crl' } : { 'content-type': 'application/pkix-crl', 'content-length': der.length });
  if (!chunked) return void res.end(der);
  let at = 0;
  const pump = () => {
    while (at < der.length) {
      const c = der.subarray(at, at + 65536);
      at += c.length;
      if (!res.write(c)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/crl`;
const root = mkdtempSync(join(tmpdir(), 'crl-store-memory-'));
const rootMetrics = mkdtempSync(join(tmpdir(), 'crl-store-memory-'));
console.log(`# CRL ${MiB(der.length)} MiB DER (${dir}), ${chunked ? 'chunked' : 'content-length'}; MiB after GC vs before: RSS / arrayBuffers / JS heap used (committed); peak RSS above before`);
try {
  for (const [step, r] of (process.env.STEPS ? (s) => s.filter(([n]) => process.env.STEPS.split(',').includes(n)) : (s) => s)([['parse', root], ['checker', root], ['lmdb', root], ['restart', root], ['lmdb+metrics', rootMetrics], ['restart+metrics', rootMetrics]])) {
    const out = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'child', step, dir, url, r], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(text.trim())) : reject(new Error(`${step}: child exited ${code}`))));
    });
    console.log(`${step.padEnd(16)} ${MiB(out.rss).padStart(6)} / ${MiB(out.arrayBuffers).padStart(6)} / ${MiB(out.heap).padStart(5)} (committed ${MiB(out.heapTotal).padStart(5)})   peak +${MiB(out.peak)}`);
  }
} finally {
  server.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(rootMetrics, { recursive: true, force: true });
}
