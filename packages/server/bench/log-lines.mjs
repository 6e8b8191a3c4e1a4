// Cost per log line of a multi-worker server's hdb.log, the two ways a single rotator can work
// (docs/ARCHITECTURE.md "Workers", log rotation):
//  - append:    every worker appends to hdb.log itself (pino -> sonic-boom, O_APPEND); the primary
//               only renames and asks for a reopen (nginx's model). Per line: the worker's write.
//  - ipc:       every worker sends each line to the primary (process.send), which writes the file.
//  - ipc-batch: the same, lines gathered for 10 ms (or 64 KiB) per message.
//  - none:      the same loop, lines generated but not logged (baseline: timers, JSON building).
// 2 workers, each logging an audit-like line (~300 bytes) per "request" at RATE lines/s in total,
// for SECONDS. CPU of the workers and of the primary (process.cpuUsage) per line, baseline subtracted.
// Usage: node bench/log-lines.mjs [RATE=4000] [SECONDS=6]
import cluster from 'node:cluster';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';

const RATE = Number(process.argv[2] ?? 4000);
const SECONDS = Number(process.argv[3] ?? 6);
const WORKERS = 2;
const cpu = (u) => (u.user + u.system) / 1000; // ms

function line(logger, i) {
  logger.warn(
    { audit: 'authentication', outcome: 'failure', user: `bench-${i}`, method: 'basic', remote: '127.0.0.1', listener: 'operations', fingerprint256: 'AB:'.repeat(31) + 'CD', reason: 'unknown user', reqId: i },
    'authentication failed (audit)',
  );
}

if (cluster.isWorker) {
  const mode = process.env.MODE;
  const file = process.env.FILE;
  let dest;
  if (mode === 'append') dest = pino.destination({ dest: file, sync: false, mkdir: true });
  else if (mode === 'ipc') dest = new Writable({ write: (chunk, _e, cb) => (process.send({ l: chunk.toString() }), cb()) });
  else if (mode === 'ipc-batch') {
    let buf = [];
    let size = 0;
    const flush = () => {
      if (buf.length) process.send({ b: buf });
      buf = [];
      size = 0;
    };
    setInterval(flush, 10);
    dest = { write: (s) => (buf.push(s), (size += s.length) > 65536 && flush()) };
  } else dest = { write: () => {} };
  const logger = pino({ base: { name: 'harper-tls', worker: Number(process.env.INDEX) } }, dest);
  const perTick = RATE / WORKERS / 100; // every 10 ms
  let i = 0;
  let carry = 0;
  process.on('message', (m) => {
    if (m !== 'go') return;
    const start = process.cpuUsage();
    const t = setInterval(() => {
      carry += perTick;
      while (carry >= 1) {
        line(logger, i++);
        carry--;
      }
    }, 10);
    setTimeout(() => {
      clearInterval(t);
      const done = () => process.send({ done: true, lines: i, cpuMs: cpu(process.cpuUsage(start)) });
      if (dest.flush) dest.flush(() => done());
      else setTimeout(done, 30);
    }, SECONDS * 1000);
  });
  process.send({ ready: true });
} else {
  const results = [];
  for (const mode of ['none', 'append', 'ipc', 'ipc-batch']) {
    const dir = mkdtempSync(join(tmpdir(), 'log-bench-'));
    const file = join(dir, 'hdb.log');
    const primaryFile = mode.startsWith('ipc') ? pino.destination({ dest: file, sync: false }) : undefined;
    const workers = Array.from({ length: WORKERS }, (_, i) => cluster.fork({ MODE: mode, FILE: file, INDEX: String(i) }));
    await Promise.all(workers.map((w) => new Promise((r) => w.on('message', (m) => m.ready && r()))));
    const start = process.cpuUsage();
    const wall = Date.now();
    const dones = workers.map(
      (w) =>
        new Promise((r) =>
          w.on('message', (m) => {
            if (m.l) primaryFile.write(m.l);
            else if (m.b) for (const l of m.b) primaryFile.write(l);
            else if (m.done) r(m);
          }),
        ),
    );
    for (const w of workers) w.send('go');
    const reports = await Promise.all(dones);
    if (primaryFile) await new Promise((r) => primaryFile.flush(() => r()));
    const primaryMs = cpu(process.cpuUsage(start));
    const lines = reports.reduce((a, r) => a + r.lines, 0);
    const workerMs = reports.reduce((a, r) => a + r.cpuMs, 0);
    let bytes = 0;
    try {
      bytes = statSync(file).size;
    } catch {}
    results.push({ mode, lines, seconds: (Date.now() - wall) / 1000, workerMs, primaryMs, bytes });
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => new Promise((r) => (w.isDead() ? r() : w.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  }
  const base = results[0];
  console.log(`log lines: ${WORKERS} workers, ${RATE} lines/s in total, ${SECONDS} s each, load average ${loadavg()[0].toFixed(2)}`);
  console.log('mode       lines  file MB  worker CPU us/line  primary CPU us/line  total us/line (baseline subtracted)');
  for (const r of results) {
    const w = ((r.workerMs - (base.workerMs * r.lines) / base.lines) * 1000) / r.lines;
    const p = ((r.primaryMs - (base.primaryMs * r.lines) / base.lines) * 1000) / r.lines;
    console.log(`${r.mode.padEnd(10)} ${String(r.lines).padStart(6)}  ${(r.bytes / 2 ** 20).toFixed(2).padStart(7)}  ${w.toFixed(2).padStart(18)}  ${p.toFixed(2).padStart(19)}  ${(w + p).toFixed(2).padStart(13)}`);
  }
  process.exit(0);
}
