// Benchmark: full mTLS handshakes/s and keep-alive requests/s through harper-tls (revocation on,
// warm CRL cache) vs a bare Node https server with requestCert and no pipeline, and vs nginx
// (ssl_verify_client on, ssl_crl) when it is installed. Same machine, same certificates, one run.
// Usage: pnpm --filter @harper-tls/server bench   (SECONDS=5 CONCURRENCY=8 to change the load)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = join(here, '..', 'bench-out');
const SECONDS = Number(process.env.SECONDS ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const KEY_TYPES = (process.env.KEY_TYPES ?? 'ec,rsa').split(',');

const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

function makePki(dir, keyType, crlUrl) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'ca', 'newcerts'), { recursive: true });
  const newkey = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  writeFileSync(join(dir, 'ca', 'index.txt'), '');
  writeFileSync(join(dir, 'ca', 'crlnumber'), '1000\n');
  writeFileSync(
    join(dir, 'openssl.cnf'),
    `[ca]\ndefault_ca=CA\n[CA]\ndir=${join(dir, 'ca')}\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/newcerts\ncertificate=${join(dir, 'ca.pem')}\nprivate_key=${join(dir, 'ca.key')}\nserial=$dir/serial\ncrlnumber=$dir/crlnumber\ndefault_md=sha256\ndefault_crl_days=30\npolicy=any\n[any]\ncommonName=supplied\n` +
      `[server]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n` +
      `[client]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\ncrlDistributionPoints=URI:${crlUrl}\n`,
  );
  sh('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=bench CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  writeFileSync(join(dir, 'ca', 'serial'), '1000\n');
  for (const [name, ext, cn] of [['server', 'server', 'localhost'], ['client', 'client', 'bench']]) {
    sh('openssl', ['req', '-new', ...newkey, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-extensions', ext, '-days', '30', '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext'], dir);
  }
  // A few revoked certificates so the CRL is not empty.
  for (let i = 0; i < 3; i++) {
    sh('openssl', ['req', '-new', ...newkey, '-nodes', '-keyout', `r${i}.key`, '-out', `r${i}.csr`, '-subj', `/CN=revoked${i}`], dir);
    sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-extensions', 'client', '-days', '30', '-in', `r${i}.csr`, '-out', `r${i}.pem`, '-notext'], dir);
    sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-revoke', `r${i}.pem`, '-crl_reason', 'keyCompromise'], dir);
  }
  sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-gencrl', '-out', 'crl.pem'], dir);
  sh('openssl', ['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der'], dir);
}

function startChild(script, cfg) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, script), JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve({ child, info: JSON.parse(buf.slice(0, nl)) });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

function stopChild(child) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

function load(cfg) {
  const r = execFileSync(process.execPath, [join(here, 'loadgen.mjs'), JSON.stringify({ seconds: SECONDS, concurrency: CONCURRENCY, path: '/whoami', expectStatus: 200, ...cfg })], { encoding: 'utf8', timeout: (SECONDS + 60) * 1000 });
  return JSON.parse(r);
}

function rssOf(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
}

const which = (bin) => {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
};

async function startNginx(dir) {
  const nginx = which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
  if (!nginx) return undefined;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log;\nevents { worker_connections 1024; }\nhttp {\n access_log off;\n client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;\n server {\n  listen 127.0.0.1:${port} ssl;\n  ssl_certificate ${dir}/server.pem; ssl_certificate_key ${dir}/server.key;\n  ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on; ssl_crl ${dir}/crl.pem;\n  ssl_session_cache off; ssl_session_tickets off;\n  keepalive_requests 1000000;\n  location / { default_type application/json; return 200 '{"username":"bench","role":"super_user","authenticatedBy":"mtls"}'; }\n }\n}\n`;
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn(nginx, ['-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  return { child, port };
}

mkdirSync(out, { recursive: true });
const crlServer = http.createServer();
let crlDownloads = 0;
await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
const crlPort = crlServer.address().port;
const rows = [];

for (const keyType of KEY_TYPES) {
  const dir = join(out, `pki-${keyType}`);
  makePki(dir, keyType, `http://127.0.0.1:${crlPort}/${keyType}.crl`);
  crlServer.removeAllListeners('request');
  crlServer.on('request', (req, res) => {
    crlDownloads++;
    res.writeHead(200, { 'content-type': 'application/pkix-crl' });
    res.end(readFileSync(join(dir, 'crl.der')));
  });
  const root = join(dir, 'root');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'harperdb-config.yaml'),
    `http:\n  port: null\n  securePort: 1\n  mtls:\n    required: true\n    certificateVerification:\n      crl: true\n      ocsp: false\ntls:\n  certificate: ${dir}/server.pem\n  privateKey: ${dir}/server.key\n  certificateAuthority: ${dir}/ca.pem\noperationsApi:\n  network:\n    port: null\nlogging:\n  level: error\n`,
  );
  const client = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key') };

  const bare = await startChild('bare-server.mjs', { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') });
  const bareHs = load({ port: bare.info.port, mode: 'handshake', ...client });
  const bareKa = load({ port: bare.info.port, mode: 'keepalive', ...client });
  const bareRss = rssOf(bare.child.pid);
  await stopChild(bare.child);

  crlDownloads = 0;
  const harper = await startChild('harper-server.mjs', { root, port: 0 });
  // Warm the CRL cache with one request, as a running server would have.
  load({ port: harper.info.port, mode: 'handshake', ...client, seconds: 0.2, concurrency: 1 });
  const hHs = load({ port: harper.info.port, mode: 'handshake', ...client });
  const hKa = load({ port: harper.info.port, mode: 'keepalive', ...client });
  const hRss = rssOf(harper.child.pid);
  await stopChild(harper.child);

  let nginxHs;
  const nginx = await startNginx(dir);
  if (nginx) {
    nginxHs = load({ port: nginx.port, mode: 'handshake', ...client, path: '/whoami' });
    await stopChild(nginx.child);
  }
  rows.push({ keyType, bareHs, bareKa, hHs, hKa, nginxHs, crlDownloads, bareRss, hRss });
}
crlServer.close();

const ratio = (a, b) => (b ? (a / b).toFixed(2) : 'n/a');
const lines = [
  '| key | scenario | bare Node https | harper-tls | ratio (goal ≥ 0.95) | nginx | harper/nginx |',
  '|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  lines.push(`| ${r.keyType === 'ec' ? 'ECDSA P-256' : 'RSA 2048'} | full mTLS handshakes/s | ${r.bareHs.perSecond} (p50 ${r.bareHs.p50} ms, p99 ${r.bareHs.p99} ms) | ${r.hHs.perSecond} (p50 ${r.hHs.p50} ms, p99 ${r.hHs.p99} ms, ${r.hHs.failed} failed) | ${ratio(r.hHs.perSecond, r.bareHs.perSecond)} | ${r.nginxHs ? r.nginxHs.perSecond : 'not installed'} | ${r.nginxHs ? ratio(r.hHs.perSecond, r.nginxHs.perSecond) : 'n/a'} |`);
  lines.push(`| ${r.keyType === 'ec' ? 'ECDSA P-256' : 'RSA 2048'} | keep-alive requests/s | ${r.bareKa.perSecond} (p99 ${r.bareKa.p99} ms) | ${r.hKa.perSecond} (p99 ${r.hKa.p99} ms, ${r.hKa.failed} failed) | ${ratio(r.hKa.perSecond, r.bareKa.perSecond)} | | |`);
}
const md = [
  '# @harper-tls/server benchmark: mTLS handshakes and keep-alive requests',
  '',
  `Run: \`pnpm --filter @harper-tls/server bench\` (SECONDS=${SECONDS}, CONCURRENCY=${CONCURRENCY}) on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
  'Load generator, servers and nginx are separate processes on one 2-core machine, so absolute numbers are bounded by sharing the cores; the ratios compare like with like.',
  'harper-tls: `http.mtls.required: true`, `certificateVerification` with CRL (warm cache; the CRL was downloaded ' + rows.map((r) => `${r.crlDownloads}×`).join('/') + ' per run), `/whoami` through the full authentication pipeline (user lookup, revocation verdict).',
  'Bare: `https.createServer({ requestCert: true, rejectUnauthorized: true })` answering the same JSON. nginx: `ssl_verify_client on; ssl_crl`, no session cache.',
  '',
  ...lines,
  '',
  `Resident memory after the run: bare ${rows.map((r) => `${Math.round(r.bareRss / 2 ** 20)} MiB`).join('/')}, harper-tls ${rows.map((r) => `${Math.round(r.hRss / 2 ** 20)} MiB`).join('/')}.`,
  '',
];
const docs = join(here, '..', '..', '..', 'docs', 'bench');
mkdirSync(docs, { recursive: true });
writeFileSync(join(docs, 'server.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
