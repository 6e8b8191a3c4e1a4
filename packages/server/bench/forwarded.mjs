// Cost of SPEC section 7 per request, against a bare HTTP server in the same run: the forwarding
// policy at request entry (untrusted peer: strip and count; trusted: XFF walk), and the forwarded
// client certificate verified per request through the authenticator (decoded chain remembered by
// header value; chain, dates and identity checked every request), with and without revocation
// (the local-CA-style authority answer: no network). The server runs in a child process; HTTP/1.1
// keep-alive over plain TCP, as from a proxy. Usage: node bench/forwarded.mjs (BENCH_SECONDS, BENCH_CONCURRENCY)
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { X509Certificate, randomBytes } from 'node:crypto';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-bench-'));
  const ossl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=Bench CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'alice.key', '-out', 'alice.csr', '-subj', '/CN=alice');
  writeFileSync(join(dir, 'alice.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  ossl('x509', '-req', '-in', 'alice.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'alice.crt', '-extfile', 'alice.ext');
  return dir;
}

async function serve(scenario, dir) {
  const { createAuthenticator, createTokenService, createMemoryUserStore, compileTrustedProxies } = await import('@harper-tls/mtls-auth');
  const { applyForwardingPolicy, installForwardingPolicy, forwardedHeadersTrusted, clientAddress } = await import('../dist/index.js');
  const users = createMemoryUserStore();
  await users.create({ username: 'alice', password: 'alice-pw', role: 'super_user' });
  const tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 60_000 });
  const revocation = scenario === 'forwarded-revocation' ? { check: async () => ({ status: 'good', allowed: true }) } : undefined;
  const auth = createAuthenticator({
    users,
    tokens,
    mtls: { required: true, user: { kind: 'cn' }, certificateVerification: revocation ? { enabled: true } : false },
    trustedCas: [new X509Certificate(readFileSync(join(dir, 'ca.crt')))],
    revocation,
    forwarded: { header: 'x-ssl-client-cert', format: 'pem-urlencoded', trusted: forwardedHeadersTrusted },
  });
  let handler;
  if (scenario === 'bare') handler = (_req, res) => res.end('{"ok":true}');
  else if (scenario.startsWith('policy')) handler = (req, res) => {
    applyForwardingPolicy(req);
    clientAddress(req);
    res.end('{"ok":true}');
  };
  else handler = (req, res) => {
    applyForwardingPolicy(req);
    auth.authenticate(req).then((r) => {
      res.statusCode = r.ok ? 200 : 401;
      res.end(r.ok ? '{"ok":true}' : '{"error":"Login failed"}');
    });
  };
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handler);
  installForwardingPolicy(server, { proxies: compileTrustedProxies(scenario === 'policy-untrusted' ? ['10.0.0.0/8'] : ['127.0.0.1']), certificateHeader: 'x-ssl-client-cert', onUntrusted: () => {} });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

async function load(port, headers, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (Date.now() < deadline) {
      const status = await new Promise((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/', headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', () => resolve(0));
        req.end();
      });
      if (status === 200) ok++;
      else failed++;
    }
    agent.destroy();
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { rps: ok / (Number(process.hrtime.bigint() - t0) / 1e9), ok, failed };
}

async function scenario(name, dir, headers) {
  const child = fork(new URL(import.meta.url), ['server', name, dir], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  await load(port, headers, 1); // warm-up, discarded
  const r = await load(port, headers, SECONDS);
  child.kill();
  return r;
}

/**
 * Per-call CPU in this process (no network, so not at the mercy of a shared machine's scheduler):
 * applyForwardingPolicy on a fresh request object, and authenticate() with a forwarded certificate
 * (no gate / an instant revocation gate) against a handshake-style per-connection cache hit.
 */
async function micro(dir) {
  const { createAuthenticator, createTokenService, createMemoryUserStore, compileTrustedProxies } = await import('@harper-tls/mtls-auth');
  const { applyForwardingPolicy, installForwardingPolicy } = await import('../dist/index.js');
  const users = createMemoryUserStore();
  await users.create({ username: 'alice', password: 'alice-pw', role: 'super_user' });
  const tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 60_000 });
  const v = encodeURIComponent(readFileSync(join(dir, 'alice.crt'), 'utf8'));
  const time = async (n, f) => {
    for (let i = 0; i < n / 10; i++) await f();
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await f();
    return Number(process.hrtime.bigint() - t) / 1e3 / n;
  };
  const rows = [];
  {
    const server = new http.Server();
    installForwardingPolicy(server, { proxies: compileTrustedProxies([]), onUntrusted: () => {} });
    const socket = { remoteAddress: '127.0.0.1', server };
    rows.push(['applyForwardingPolicy, no forwarded headers (every ordinary request)', await time(200_000, () => applyForwardingPolicy({ socket, rawHeaders: ['Host', 'x', 'Accept', '*/*', 'User-Agent', 'curl'], headers: { host: 'x', accept: '*/*', 'user-agent': 'curl' } }))]);
  }
  for (const [name, trusted] of [['untrusted peer (strip, count)', ['10.0.0.0/8']], ['trusted peer (XFF walk)', ['127.0.0.1']]]) {
    const server = new http.Server();
    installForwardingPolicy(server, { proxies: compileTrustedProxies(trusted), certificateHeader: 'x-ssl-client-cert', onUntrusted: () => {} });
    const socket = { remoteAddress: '127.0.0.1', server };
    const us = await time(200_000, () => {
      const raw = ['Host', 'x', 'X-SSL-Client-Cert', v, 'X-Forwarded-For', '203.0.113.7, 10.1.1.1', 'Accept', '*/*'];
      applyForwardingPolicy({ socket, rawHeaders: raw, headers: { host: 'x', 'x-ssl-client-cert': v, 'x-forwarded-for': '203.0.113.7, 10.1.1.1', accept: '*/*' } });
    });
    rows.push([`applyForwardingPolicy, ${name}`, us]);
  }
  for (const rev of [false, true]) {
    const revocation = rev ? { check: async () => ({ status: 'good', allowed: true }) } : undefined;
    const auth = createAuthenticator({ users, tokens, mtls: { required: true, user: { kind: 'cn' }, certificateVerification: rev ? { enabled: true } : false }, trustedCas: [new X509Certificate(readFileSync(join(dir, 'ca.crt')))], revocation, forwarded: { header: 'x-ssl-client-cert', format: 'pem-urlencoded', trusted: () => true } });
    const req = { headers: { 'x-ssl-client-cert': v }, rawHeaders: ['X-SSL-Client-Cert', v], socket: {} };
    rows.push([`authenticate(), forwarded certificate${rev ? ' + revocation gate' : ''}`, await time(50_000, () => auth.authenticate(req))]);
  }
  console.log(['| per call (in process) | µs |', '|---|---:|', ...rows.map(([n, us]) => `| ${n} | ${us.toFixed(2)} |`)].join('\n') + '\n');
}

if (process.argv[2] === 'server') await serve(process.argv[3], process.argv[4]);
else if (process.argv[2] === 'micro') await micro(makeCerts());
else {
  await micro(makeCerts());
  const dir = makeCerts();
  const cert = { 'x-ssl-client-cert': encodeURIComponent(readFileSync(join(dir, 'alice.crt'), 'utf8')), 'x-forwarded-for': '203.0.113.7, 10.1.1.1', 'x-forwarded-proto': 'https' };
  const best = (a, b) => (a.rps >= b.rps ? a : b);
  const bare = best(await scenario('bare', dir, cert), await scenario('bare', dir, cert));
  const rows = [
    ['bare http (same headers sent)', bare],
    ['forwarding policy, trusted peer (XFF walk)', await scenario('policy-trusted', dir, cert)],
    ['forwarding policy, untrusted peer (strip 3 headers, count)', await scenario('policy-untrusted', dir, cert)],
    ['forwarded certificate verified per request', await scenario('forwarded', dir, cert)],
    ['forwarded certificate + revocation gate (cached answer)', await scenario('forwarded-revocation', dir, cert)],
  ];
  console.log(`date: ${new Date().toISOString()}, node ${process.version}, ${SECONDS} s per scenario, ${CONCURRENCY} keep-alive connections\n`);
  console.log(['| scenario | requests/s | vs bare | ok | failed |', '|---|---:|---:|---:|---:|', ...rows.map(([n, r]) => `| ${n} | ${r.rps.toFixed(0)} | ${(r.rps / bare.rps).toFixed(3)} | ${r.ok} | ${r.failed} |`)].join('\n'));
}
