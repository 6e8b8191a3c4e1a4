// Mechanism (a) for SPEC.md section 8, measured against node:cluster (what harper-tls uses):
// worker_threads with connection hand-off from the main thread, the way Harper's
// server/threads does it. The main thread accepts on the one port (pauseOnConnect), passes the
// socket's file descriptor to a worker thread round robin, and each worker wraps it
// (`new net.Socket({ fd })`) and hands it to its own harper-tls HTTPS server (startHarper, the
// same bootstrap). Node 20 has no way to give up the main thread's handle without closing the
// fd (no dup, no detach), so this prototype keeps the main thread's paused handle of every
// connection until the worker reports it closed (a leak per connection a real server would
// have to solve natively); good enough to measure throughput and memory.
// Prints {port} once every worker serves. cfg: { root, threads }.
import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';

if (isMainThread) {
  const cfg = JSON.parse(process.argv[2]);
  const count = cfg.threads ?? 2;
  const workers = [];
  const held = new Map();
  for (let i = 0; i < count; i++) {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { root: cfg.root, index: i } });
    workers.push(w);
    await new Promise((resolve, reject) => {
      w.once('error', reject);
      w.on('message', (m) => {
        if (m.ready) resolve();
        if (m.closed !== undefined) held.delete(m.closed);
      });
    });
  }
  let next = 0;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const fd = socket._handle.fd;
    socket._handle.readStop();
    held.set(fd, socket); // see above: closing it would close the worker's connection
    workers[next++ % count].postMessage({ fd });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
  process.on('SIGUSR2', () => cfg.memFile && writeFileSync(cfg.memFile, JSON.stringify(process.memoryUsage())));
  process.on('SIGTERM', () => process.exit(0));
} else {
  const { loadConfig } = await import('@harper-tls/config');
  const { createLogger, startHarper } = await import('@harper-tls/server');
  const { config } = await loadConfig({ root: workerData.root, env: {}, createIfMissing: false });
  const instance = await startHarper({ config, logger: createLogger({ level: 'error' }), host: '127.0.0.1', portOverrides: { https: 0 }, admin: { username: 'admin', password: 'bench' } });
  try {
    await instance.users.create({ username: 'bench', password: 'bench-pw', role: 'super_user', active: true });
  } catch {
    // the other worker made it
  }
  const https = instance.server.server('https');
  parentPort.on('message', ({ fd }) => {
    const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: false });
    socket.once('close', () => parentPort.postMessage({ closed: fd }));
    https.emit('connection', socket);
  });
  parentPort.postMessage({ ready: true });
}
