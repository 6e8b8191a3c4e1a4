// Requests/s through createAuthenticator().authenticate on keep-alive connections, against a
// bare https server, same certs, same run. The server runs in a child process so the load
// generator does not steal its event loop. Usage: pnpm run bench  (BENCH_SECONDS, BENCH_CONCURRENCY)
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, Agent, createServer } from 'node:https';
import { X509Certificate, randomBytes } from 'node:crypto';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-auth-bench-'));
  const ossl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=Bench CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  for (const [name, cn, eku, san] of [['server', 'localhost', 'serverAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], ['alice', 'alice', 'clientAuth', '']]) {
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nextendedKeyUsage=${eku}\n${san}\n`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
  }
  const read = (f) => readFileSync(join(dir, f), 'utf8');
  return { dir, ca: read('ca.crt'), server: { key: read('server.key'), cert: read('server.crt') }, alice: { key: read('alice.key'), cert: read('alice.crt') } };
}

// ---- server side (child process) ----
async function serve(scenario, certs) {
  const { createAuthenticator, createTokenService, createMemoryUserStore } = await import('../dist/index.js');
  const users = createMemoryUserStore(); // the lmdb store lives in @harper-tls/server now; its get() is sync under a Promise like this one
  if (!(await users.get('alice'))) await users.create({ username: 'alice', password: 'alice-pw', role: 'super_user' });
  const tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 60_000 });
  const mtlsOn = scenario === 'bare' || scenario === 'mtls';
  const auth = createAuthenticator({
    users,
    tokens,
    mtls: mtlsOn ? { required: true, user: { kind: 'cn' }, certificateVerification: false } : false,
    trustedCas: [new X509Certificate(certs.ca)],
    basicCache: scenario !== 'basic-nocache',
  });
  const handler =
    scenario === 'bare'
      ? (_req, res) => res.end('{"ok":true}')
      : (req, res) =>
          auth.authenticate(req).then((r) => {
            res.statusCode = r.ok ? 200 : 401;
            res.end(r.ok ? '{"ok":true}' : '{"error":"Login failed"}');
          });
  const server = createServer({ ...certs.server, ca: [certs.ca], requestCert: mtlsOn, rejectUnauthorized: mtlsOn, keepAliveTimeout: 60_000 }, handler);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

// ---- load generator (parent) ----
async function load(port, certs, headers, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: [certs.ca], ...certs.alice });
    while (Date.now() < deadline) {
      const status = await new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port, servername: 'localhost', path: '/', headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.setTimeout(5000, () => req.destroy());
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
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rps: ok / secs, ok, failed };
}

async function scenario(name, certs, headers = {}) {
  const child = fork(new URL(import.meta.url), ['server', name, certs.dir], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  // A 1 s warm-up (JIT, lmdb pages) is run and discarded so every scenario is measured warm.
  await load(port, certs, headers, 1);
  const result = await load(port, certs, headers, SECONDS);
  child.kill();
  return result;
}

if (process.argv[2] === 'server') {
  const dir = process.argv[4];
  const read = (f) => readFileSync(join(dir, f), 'utf8');
  await serve(process.argv[3], { dir, ca: read('ca.crt'), server: { key: read('server.key'), cert: read('server.crt') }, alice: { key: read('alice.key'), cert: read('alice.crt') } });
} else {
  const certs = makeCerts();
  const basic = { Authorization: 'Basic ' + Buffer.from('alice:alice-pw').toString('base64') };
  const rows = [];
  // bare and mtls alternate (bare, mtls, mtls, bare) and the better run counts, so neither
  // profits from running first or last on a shared machine.
  const best = (a, b) => (a.rps >= b.rps ? a : b);
  const bare1 = await scenario('bare', certs);
  const mtls1 = await scenario('mtls', certs);
  const mtls2 = await scenario('mtls', certs);
  const bare2 = await scenario('bare', certs);
  const bare = best(bare1, bare2);
  const mtls = best(mtls1, mtls2);
  const cached = await scenario('basic', certs, basic);
  const uncached = await scenario('basic-nocache', certs, basic);
  rows.push(['bare https, requestCert, no pipeline', bare], ['mTLS through authenticate()', mtls], ['Basic, per-connection cache', cached], ['Basic, no cache (scrypt every request)', uncached]);
  const { hashPassword, verifyPasswordHash } = await import('../dist/index.js');
  const times = [];
  const stored = await hashPassword('bench-password');
  for (let i = 0; i < 7; i++) {
    const t = process.hrtime.bigint();
    await verifyPasswordHash('bench-password', stored);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(`scrypt verify (N=2^14, r=8, p=1): median ${times[3].toFixed(1)} ms`);
  const date = new Date().toISOString();
  const table = [
    `| scenario | requests/s | ok | failed |`,
    `|---|---:|---:|---:|`,
    ...rows.map(([n, r]) => `| ${n} | ${r.rps.toFixed(0)} | ${r.ok} | ${r.failed} |`),
  ].join('\n');
  console.log(`date: ${date}, node ${process.version}, ${SECONDS} s per scenario, ${CONCURRENCY} keep-alive connections\n`);
  console.log(table);
  console.log(`\nmTLS/bare ratio: ${(mtls.rps / bare.rps).toFixed(3)}; Basic cache speed-up: ${(cached.rps / uncached.rps).toFixed(1)}x`);
}
