// The upstream of the proxy benchmark: plain HTTP/1.1 keep-alive, a small JSON answer with
// Content-Length (the same bytes for every proxy in front of it). Prints {port}.
import http from 'node:http';

const body = JSON.stringify({ ok: true, from: 'upstream' });
const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
