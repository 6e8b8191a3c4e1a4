// Shared helpers of the server benchmarks: a throw-away PKI made with the openssl CLI, child
// servers, the load generator run asynchronously (so an in-process CRL/OCSP server keeps
// answering), CPU time of a process tree from /proc, and the machine's load.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = fileURLToPath(new URL('.', import.meta.url));
export const out = join(here, '..', 'bench-out');
export const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 }).toString();

/** Every child process started by a bench, killed on exit even on failure. */
const children = new Set();
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
export function killAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
process.on('uncaughtException', (err) => {
  console.error(err);
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  console.error(err);
  process.exit(1);
});

/**
 * A CA, a server certificate (localhost + `hosts`), `clients` client certificates (CN=bench),
 * 3 revoked ones and a CRL. Client certificates carry the CDP `crlUrl` and, when given, the
 * OCSP URL `ocspUrl` (AIA).
 */
export function makePki(dir, { keyType = 'ec', crlUrl, ocspUrl, clients = 1, sniHosts = [] } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'ca', 'newcerts'), { recursive: true });
  const newkey = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  writeFileSync(join(dir, 'ca', 'index.txt'), '');
  writeFileSync(join(dir, 'ca', 'crlnumber'), '1000\n');
  const clientExt = [crlUrl ? `crlDistributionPoints=URI:${crlUrl}` : '', ocspUrl ? `authorityInfoAccess=OCSP;URI:${ocspUrl}` : ''].filter(Boolean).join('\n');
  writeFileSync(
    join(dir, 'openssl.cnf'),
    `[ca]\ndefault_ca=CA\n[CA]\ndir=${join(dir, 'ca')}\ndatabase=$dir/index.txt\nunique_subject=no\nnew_certs_dir=$dir/newcerts\ncertificate=${join(dir, 'ca.pem')}\nprivate_key=${join(dir, 'ca.key')}\nserial=$dir/serial\ncrlnumber=$dir/crlnumber\ndefault_md=sha256\ndefault_crl_days=30\npolicy=any\n[any]\ncommonName=supplied\n` +
      `[server]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n` +
      sniHosts.map((h, i) => `[sni${i}]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${h}\n`).join('') +
      `[client]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n${clientExt}\n`,
  );
  sh('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=bench CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  writeFileSync(join(dir, 'ca', 'serial'), '1000\n');
  const issue = (name, ext, cn) => {
    sh('openssl', ['req', '-new', ...newkey, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-extensions', ext, '-days', '30', '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext'], dir);
  };
  issue('server', 'server', 'localhost');
  sniHosts.forEach((h, i) => issue(`sni${i}`, `sni${i}`, h));
  for (let i = 0; i < clients; i++) issue(i === 0 ? 'client' : `client${i}`, 'client', 'bench');
  // A few revoked certificates so the CRL is not empty.
  for (let i = 0; i < 3; i++) {
    issue(`r${i}`, 'client', `revoked${i}`);
    sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-revoke', `r${i}.pem`, '-crl_reason', 'keyCompromise'], dir);
  }
  sh('openssl', ['ca', '-batch', '-config', 'openssl.cnf', '-gencrl', '-out', 'crl.pem'], dir);
  sh('openssl', ['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der'], dir);
}

/** A harper-tls root directory (fresh, so the embedded store holds no cached CRL). */
export function makeHarperRoot(root, { dir, verification = '      crl: true\n      ocsp: false\n', tls } = {}) {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const tlsYaml = tls ?? `tls:\n  certificate: ${dir}/server.pem\n  privateKey: ${dir}/server.key\n  certificateAuthority: ${dir}/ca.pem\n`;
  writeFileSync(
    join(root, 'harperdb-config.yaml'),
    `http:\n  port: null\n  securePort: 1\n  mtls:\n    required: true\n    certificateVerification:\n${verification}${tlsYaml}operationsApi:\n  network:\n    port: null\nlogging:\n  level: error\n`,
  );
  return root;
}

/** Starts `script` (in bench/) as a child; resolves when it prints its first JSON line. */
export function startChild(script, cfg, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [...nodeArgs, join(here, script), JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start in 30 s`)), 30_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1 && buf.length) {
        clearTimeout(timer);
        resolve({ child, info: JSON.parse(buf.slice(0, nl)) });
        buf = '\u0000'; // later lines are ignored
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}`));
    });
  });
}

export function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Runs the load generator as a child process (asynchronously) and resolves with its JSON result. */
export function runLoad(cfg, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [join(here, 'loadgen.mjs'), JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let buf = '';
    child.stdout.on('data', (d) => (buf += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve({ ...JSON.parse(buf), loadgenPid: child.pid });
      } catch {
        reject(new Error(`loadgen exited with ${code}: ${buf.slice(0, 200)}`));
      }
    });
  });
}

const TICK_MS = 10; // USER_HZ = 100 on Linux
function pidTree(pid) {
  const pids = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) pids.push(...pidTree(Number(k)));
    }
  } catch {}
  return pids;
}
/** CPU time (user + system, ms) used so far by `pid` and its descendants. */
export function cpuMs(pid) {
  let ticks = 0;
  for (const p of pidTree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks * TICK_MS;
}
/** Resident memory (bytes) of `pid` and its descendants: current, peak, anonymous and file-backed (mmap of lmdb, code). */
export function rssOf(pid) {
  let rss = 0;
  let hwm = 0;
  let anon = 0;
  let file = 0;
  for (const p of pidTree(pid)) {
    try {
      const s = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += Number(s.match(/VmRSS:\s+(\d+)/)[1]) * 1024;
      hwm += Number(s.match(/VmHWM:\s+(\d+)/)[1]) * 1024;
      anon += Number(s.match(/RssAnon:\s+(\d+)/)?.[1] ?? 0) * 1024;
      file += Number(s.match(/RssFile:\s+(\d+)/)?.[1] ?? 0) * 1024;
    } catch {}
  }
  return { rss, hwm, anon, file };
}

/** Runs one load against a server and adds the server's CPU ms per completed request. */
export async function measure(serverPid, cfg) {
  const c0 = cpuMs(serverPid);
  const r = await runLoad(cfg);
  const c1 = cpuMs(serverPid);
  return { ...r, serverCpuMs: c1 - c0, cpuPerReq: r.completed ? (c1 - c0) / r.completed : null };
}

export const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
export const machine = () => `${cpus().length} × ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, OpenSSL ${process.versions.openssl}`;
export function busyProcesses() {
  try {
    return sh('ps', ['-eo', 'pcpu,args', '--sort=-pcpu', '--no-headers'])
      .split('\n')
      .slice(0, 4)
      .map((l) => l.trim().slice(0, 80))
      .filter((l) => l && !/^0\.0/.test(l));
  } catch {
    return [];
  }
}

export const which = (bin) => {
  for (const p of [`/usr/sbin/${bin}`, `/usr/bin/${bin}`, `/usr/local/sbin/${bin}`]) if (existsSync(p)) return p;
  return undefined;
};

/** nginx on 127.0.0.1 with a temp prefix: worker_processes `workers` (default 1), ssl_verify_client on, ssl_crl. */
export async function startNginx(dir, { crl = join(dir, 'crl.pem'), workers = 1 } = {}) {
  const nginx = which('nginx');
  if (!nginx) return undefined;
  const prefix = join(dir, workers === 1 ? 'nginx' : `nginx-${workers}`);
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const body = '{"username":"bench","role":"super_user","authenticatedBy":"mtls"}';
  const conf = `worker_processes ${workers};\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log;\nevents { worker_connections 4096; }\nhttp {\n access_log off;\n client_body_temp_path ${prefix}/tmp; proxy_temp_path ${prefix}/tmp; fastcgi_temp_path ${prefix}/tmp; uwsgi_temp_path ${prefix}/tmp; scgi_temp_path ${prefix}/tmp;\n server {\n  listen 127.0.0.1:${port} ssl;\n  ssl_certificate ${dir}/server.pem; ssl_certificate_key ${dir}/server.key;\n  ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on; ssl_crl ${crl};\n  ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_session_cache off; ssl_session_tickets off;\n  keepalive_requests 1000000; keepalive_timeout 65s;\n  location / { default_type application/json; return 200 '${body}'; }\n }\n}\n`;
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  const child = track(spawn(nginx, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  // Wait until it accepts connections (bounded).
  const net = await import('node:net');
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${err}`);
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return { child, port, version: spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr.trim() };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not listen: ${err}`);
}

export const ratio = (a, b) => (a != null && b ? (a / b).toFixed(2) : 'n/a');
export const mib = (b) => (b / 2 ** 20).toFixed(1);
