// A bare Node https server (requestCert/rejectUnauthorized, no revocation, no routing) on
// `cfg.workers` node:cluster workers: the reference for harper-tls with threads.count N.
import cluster from 'node:cluster';
import https from 'node:https';
import { readFileSync } from 'node:fs';

const cfg = JSON.parse(process.argv[2]);
if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const port = cfg.port;
  const ws = Array.from({ length: cfg.workers }, () => cluster.fork({ BARE_PORT: String(port) }));
  await Promise.all(ws.map((w) => new Promise((r) => w.once('listening', r))));
  process.stdout.write(JSON.stringify({ port }) + '\n');
  process.on('SIGTERM', () => {
    for (const w of ws) w.kill();
    process.exit(0);
  });
} else {
  const body = '{"username":"bench","role":"super_user","authenticatedBy":"mtls"}';
  https
    .createServer({ key: readFileSync(cfg.key), cert: readFileSync(cfg.cert), ca: readFileSync(cfg.ca), requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 65_000 }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    })
    .listen(Number(process.env.BARE_PORT), '127.0.0.1');
}
