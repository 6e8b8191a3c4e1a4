// The baseline: a bare Node https server with requestCert/rejectUnauthorized, no revocation, no pipeline.
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';

const cfg = JSON.parse(process.argv[2]);
const body = JSON.stringify({ username: 'bench', role: 'super_user', authenticatedBy: 'mtls' });
const server = https.createServer(
  { key: readFileSync(cfg.key), cert: readFileSync(cfg.cert), ca: readFileSync(cfg.ca), requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 65_000 },
  (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  },
);
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  if (cfg.memFile) writeFileSync(cfg.memFile, JSON.stringify(process.memoryUsage()));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
