// The baseline: a bare Node https server with requestCert/rejectUnauthorized, no revocation, no pipeline.
// cfg.features (bench/node-features.mjs) turns on, one at a time, the Node-level settings and
// per-request work harper-tls has and this baseline does not:
//   limits   harper-tls's slowloris settings (keep-alive 4.5 s, headers/request timeouts 60 s, checked every 500 ms)
//   timeout  server.timeout 120 s (Harper's http.timeout): a socket idle timer re-armed on every read and write
//   rid      an x-request-id response header with a random UUID
//   async    the answer written after an await (harper-tls's handlers are async)
//   json     the body stringified per request instead of once
//   sni      an SNICallback that hands every handshake a second context built from the same options
import https from 'node:https';
import tls from 'node:tls';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const cfg = JSON.parse(process.argv[2]);
const on = new Set(cfg.features ?? []);
const identity = { username: 'bench', role: 'super_user', authenticatedBy: 'mtls' };
const body = JSON.stringify(identity);
const options = { key: readFileSync(cfg.key), cert: readFileSync(cfg.cert), ca: readFileSync(cfg.ca), requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 65_000 };
if (on.has('limits')) Object.assign(options, { keepAliveTimeout: 4_500, headersTimeout: 60_000, requestTimeout: 60_000, connectionsCheckingInterval: 500 });
if (on.has('sni')) {
  const context = tls.createSecureContext(options);
  options.SNICallback = (_name, cb) => cb(null, context);
}
function answer(res) {
  const text = on.has('json') ? JSON.stringify(identity) : body;
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  if (on.has('rid')) headers['x-request-id'] = randomUUID();
  res.writeHead(200, headers);
  res.end(text);
}
const server = https.createServer(
  options,
  on.has('async')
    ? async (_req, res) => {
        await Promise.resolve();
        answer(res);
      }
    : (_req, res) => answer(res),
);
if (on.has('timeout')) server.timeout = 120_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  if (cfg.memFile) writeFileSync(cfg.memFile, JSON.stringify(process.memoryUsage()));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
