// An existing HTTP service that knows nothing of TLS or passwords. It listens on 127.0.0.1 only
// and believes X-Forwarded-User because the only client that can reach it is harper-tls, which
// removes every copy a client sends and sets it from what it verified.
import http from 'node:http';

export function createService() {
  return http.createServer((req, res) => {
    const user = req.headers['x-forwarded-user'];
    if (!user) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"no user"}');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ hello: user, role: req.headers['x-forwarded-role'], via: req.headers['x-forwarded-auth'], clientCert: req.headers['x-forwarded-client-cert'] ?? null, path: req.url, for: req.headers['x-forwarded-for'] }));
  });
}
