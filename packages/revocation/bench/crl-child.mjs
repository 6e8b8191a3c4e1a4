// One measurement of bench/crl.mjs in a clean process: argv = dist, crl file, CA PEM, entries, runs.
// Prints one JSON line.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const [dist, file, caFile, nText, runsText] = process.argv.slice(2);
const n = Number(nText);
const runs = Number(runsText);
const { parseCrl, parseCrlAsync, parseCertificate, verifyCrlSignature } = await import(dist);
const ca = parseCertificate(new Uint8Array(new X509Certificate(readFileSync(caFile)).raw));
const serialOf = (i) => (0x4000000000000000n + BigInt(i) * 0x9e3779b97f4an).toString(16).toUpperCase().padStart(18, '0');
/** DER INTEGER content octets of a positive serial: minimal, with a 00 when the top bit is set. */
const bytesOf = (hex) => {
  let h = BigInt(`0x${hex}`).toString(16);
  if (h.length % 2) h = `0${h}`;
  if (Number.parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return Uint8Array.from(Buffer.from(h, 'hex'));
};

/** A Uint8Array over a Buffer's bytes (no copy). */
const view = (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

const settle = () => {
  for (let i = 0; i < 3; i++) global.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, buffers: m.arrayBuffers, heap: m.heapUsed }; // arrayBuffers is already part of external
};

// Memory: what a loaded CRL keeps (first load, clean heap).
const before = settle();
let crl = parseCrl(view(await readFile(file)));
if (!verifyCrlSignature(crl, ca)) throw new Error('signature does not verify');
const after = settle();
if (crl.size !== n) throw new Error(`expected ${n} entries, parsed ${crl.size}`);

// Time: best of `runs` full loads (read + parse + verify + index); the signature cache is per CRL object.
let loadMs = Infinity;
let parseMs = Infinity;
let verifyMs = Infinity;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const der = view(await readFile(file));
  const t1 = performance.now();
  const c = parseCrl(der);
  const t2 = performance.now();
  if (!verifyCrlSignature(c, ca)) throw new Error('signature does not verify');
  const t3 = performance.now();
  loadMs = Math.min(loadMs, t3 - t0);
  parseMs = Math.min(parseMs, t2 - t1);
  verifyMs = Math.min(verifyMs, t3 - t2);
}

// Lookups: 1M each of revoked and absent serials, drawn at random (fixed seed) from the whole CRL
// so the probes touch the whole 40 MB (cache misses as in real use), 64k distinct ones each.
const L = 1_000_000;
const K = 65_536;
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const present = Array.from({ length: K }, () => bytesOf(serialOf(Math.floor(rand() * n))));
const absent = Array.from({ length: K }, (_, i) => bytesOf(serialOf(n + i)));
const issuer = Uint8Array.from(crl.issuerDer); // a copy, as the checker passes the certificate's own issuer bytes
for (const s of present) if (!crl.lookup(s, issuer)) throw new Error('a revoked serial was not found');
for (const s of absent) if (crl.lookup(s, issuer)) throw new Error('an absent serial was found');
let t = performance.now();
for (let i = 0; i < L; i++) crl.lookup(present[i & (K - 1)], issuer);
const hitNs = ((performance.now() - t) * 1e6) / L;
t = performance.now();
for (let i = 0; i < L; i++) crl.lookup(absent[i & (K - 1)], issuer);
const missNs = ((performance.now() - t) * 1e6) / L;

// Event loop: the longest gap a 1 ms timer sees while parseCrlAsync runs, after a GC; and, as the
// noise floor of this shared machine, the longest gap the same timer sees over the same time idle.
const gapDuring = async (work) => {
  // Wall gap between ticks, and the CPU time this process used in that gap: under contention from
  // other processes the wall gap includes time the OS ran something else; the CPU gap does not.
  let maxGap = 0;
  let maxCpu = 0;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  const tick = () => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    maxGap = Math.max(maxGap, now - last);
    maxCpu = Math.max(maxCpu, (cpu.user + cpu.system) / 1000);
    last = now;
    lastCpu = process.cpuUsage();
  };
  const timer = setInterval(tick, 1);
  const t0 = performance.now();
  last = t0;
  lastCpu = process.cpuUsage();
  const out = await work();
  const ms = performance.now() - t0;
  tick();
  clearInterval(timer);
  return { maxGap, maxCpu, ms, out };
};
const der = view(await readFile(file));
settle();
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
// First parseCrlAsync of the process (cold: its code is not compiled yet), then a warm one.
const cold = await gapDuring(() => parseCrlAsync(der));
crl = cold.out;
if (crl.size !== n) throw new Error(`parseCrlAsync: expected ${n} entries, parsed ${crl.size}`);
settle();
const asyncRun = await gapDuring(() => parseCrlAsync(der));
h.disable();
settle();
const idle = await gapDuring(() => new Promise((r) => setTimeout(r, Math.max(20, asyncRun.ms))));

console.log(JSON.stringify({ loadMs, parseMs, verifyMs, rssAdded: after.rss - before.rss, buffersAdded: after.buffers - before.buffers, heapAdded: after.heap - before.heap, hitNs, missNs, maxStallMs: asyncRun.maxGap, maxStallCpuMs: asyncRun.maxCpu, coldStallMs: cold.maxGap, asyncMs: asyncRun.ms, idleStallMs: idle.maxGap, p99DelayMs: h.percentile(99) / 1e6 }));
