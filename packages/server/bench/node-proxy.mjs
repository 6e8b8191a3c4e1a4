// The Node baseline of the proxy benchmark: the least a Node mTLS reverse proxy does, https with
// requestCert/rejectUnauthorized and undici Pool.stream to the upstream (keep-alive), request
// headers passed as they came minus hop-by-hop, X-Forwarded-For/Proto set. No authentication
// beyond the TLS handshake, no identity headers, no routing. Prints {port}.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

const cfg = JSON.parse(process.argv[2]);
const pool = new Pool(cfg.upstream, { pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection', 'host', 'expect', 'trailer']);
const server = https.createServer(
  { key: readFileSync(cfg.key), cert: readFileSync(cfg.cert), ca: readFileSync(cfg.ca), requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 65_000 },
  (req, res) => {
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
    headers.push('x-forwarded-for', req.socket.remoteAddress, 'x-forwarded-proto', 'https');
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool
      .stream({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, ({ statusCode, headers: h }) => {
        delete h.connection;
        delete h['keep-alive'];
        delete h['transfer-encoding'];
        res.writeHead(statusCode, h);
        return res;
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  },
);
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
