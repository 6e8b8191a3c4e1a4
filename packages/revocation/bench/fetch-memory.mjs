#!/usr/bin/env node
// Memory of fetchBytes on a 200 MB body from a local server, with and without content-length:
// peak RSS and ArrayBuffer bytes above the baseline while downloading (sampled every 2 ms), and
// what stays after a GC. Each download runs in its own child process (node --expose-gc).
//
//   pnpm --filter @harper-tls/revocation build && node bench/fetch-memory.mjs
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DIST = process.env.BENCH_DIST ?? join(HERE, '..', 'dist', 'index.js');
const SIZE = Number(process.env.BENCH_MB ?? 200) * 1024 * 1024;

if (process.argv[2] === 'client') {
  const { fetchBytes } = await import(DIST);
  global.gc();
  const base = process.memoryUsage();
  let peakRss = 0;
  let peakAb = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakAb = Math.max(peakAb, m.arrayBuffers);
  };
  const timer = setInterval(sample, 2);
  const t0 = performance.now();
  const body = await fetchBytes(process.argv[3], { timeoutMs: 120_000, maxBytes: 256 * 1024 * 1024 });
  const ms = performance.now() - t0;
  sample();
  clearInterval(timer);
  global.gc();
  const MB = (x) => Math.round(x / 1048576);
  console.log(JSON.stringify({ bodyMB: MB(body.byteLength), peakRssMB: MB(peakRss - base.rss), peakArrayBuffersMB: MB(peakAb - base.arrayBuffers), afterGcMB: MB(process.memoryUsage().arrayBuffers - base.arrayBuffers), ms: Math.round(ms) }));
} else {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const server = createServer((req, res) => {
    res.writeHead(200, req.url === '/announced' ? { 'content-length': String(SIZE) } : {});
    let n = 0;
    const pump = () => {
      while (n < SIZE) {
        n += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  console.log(`# fetchBytes, ${SIZE / 1048576} MB body, node ${process.version}`);
  for (const path of ['announced', 'chunked']) {
    const out = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'client', `http://127.0.0.1:${port}/${path}`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('exit', (code) => (code === 0 ? resolve(text.trim()) : reject(new Error(`client exited ${code}`))));
    });
    console.log(`${path === 'announced' ? 'content-length' : 'chunked      '} ${out}`);
  }
  server.close();
}
