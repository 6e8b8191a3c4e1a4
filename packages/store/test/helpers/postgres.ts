/**
 * A real PostgreSQL 15 for the tests, configured with exactly the lines docs/cluster.md gives
 * (postgresql.conf, pg_hba.conf, pg_ident.conf, the SQL), TLS on and client-certificate auth.
 * Runs as the `postgres` user (initdb and postgres refuse root) in a fresh 0755 directory under
 * /tmp (its parents must be traversable by postgres; a CI clone may sit in a 0700 directory).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig } from '@harper-tls/config';

const BIN = process.env.HARPER_TLS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const DOCS = join(dirname(fileURLToPath(import.meta.url)), '../../../../docs/cluster.md');

/** The fenced block after `<!-- name -->` in docs/cluster.md. */
export function docBlock(name: string): string {
  const text = readFileSync(DOCS, 'utf8');
  const at = text.indexOf(`<!-- ${name} -->`);
  if (at < 0) throw new Error(`docs/cluster.md has no <!-- ${name} --> block`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(text.slice(at));
  if (!m) throw new Error(`docs/cluster.md: no code block after <!-- ${name} -->`);
  return m[1]!;
}

export function requirePostgres(): void {
  for (const b of ['initdb', 'postgres']) {
    if (!existsSync(join(BIN, b))) throw new Error(`${join(BIN, b)} is missing: install the Debian package postgresql (apt-get install postgresql-15), or set HARPER_TLS_PG_BIN`);
  }
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe' });
  } catch {
    throw new Error('there is no "postgres" user: install the Debian package postgresql');
  }
}

export interface EngineFiles {
  /** The CA the nodes' certificates chain to (the local CA). */
  caPem: string;
  engineCertPem: string;
  engineKeyPem: string;
}

export interface Engine {
  port: number;
  host: string;
  dir: string;
  /** The postmaster's pid (SIGSTOP / SIGCONT). */
  pid: number;
  url: string;
  psql(sql: string): string;
  /** SIGSTOP / SIGCONT to the postmaster and every backend: an engine that stalls without closing anything. */
  pause(): void;
  resume(): void;
  /** Shuts the engine down (its data kept); `restart` starts it again on the same port. */
  halt(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export async function startEngine(files: EngineFiles, opts: { port: number; host?: string }): Promise<Engine> {
  requirePostgres();
  const host = opts.host ?? '127.0.0.1';
  // /tmp itself, not $TMPDIR: every parent of the data directory must be traversable by postgres.
  const dir = mkdtempSync('/tmp/htls-pg-');
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(sock, { mode: 0o755 });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(data, uid, gid);
    chownSync(sock, uid, gid);
  }
  const [c, a] = asPostgres(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=peer', '-E', 'UTF8', '--no-instructions']);
  execFileSync(c, a, { stdio: 'pipe' });
  const put = (name: string, text: string, mode = 0o600) => {
    const p = join(data, name);
    writeFileSync(p, text, { mode });
    if (asRoot) execFileSync('chown', ['postgres:postgres', p]);
  };
  put('engine.pem', files.engineCertPem);
  put('engine-key.pem', files.engineKeyPem);
  put('ca.pem', files.caPem);
  appendFileSync(join(data, 'postgresql.conf'), `\n# docs/cluster.md\n${docBlock('postgresql.conf')}\n# the test's own\nlisten_addresses = '${host}'\nport = ${opts.port}\nunix_socket_directories = '${sock}'\nfsync = off\n`);
  put('pg_hba.conf', docBlock('pg_hba.conf'));
  put('pg_ident.conf', docBlock('pg_ident.conf'));

  const launch = async (): Promise<ChildProcess> => {
    const [pc, pa] = asPostgres(join(BIN, 'postgres'), ['-D', data]);
    const p: ChildProcess = spawn(pc, pa, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`PostgreSQL did not start within 30 s:\n${log}`)), 30_000);
      p.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('database system is ready to accept connections')) {
          clearTimeout(t);
          resolve();
        }
      });
      p.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`PostgreSQL exited (${code}):\n${log}`));
      });
    });
    p.stderr!.resume();
    return p;
  };
  let proc = await launch();
  const readPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let pid = readPid();
  const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => { const t = setTimeout(r, 15_000); p.once('exit', () => { clearTimeout(t); r(); }); }));
  const psql = (sql: string, db = 'postgres') => {
    const [qc, qa] = asPostgres(join(BIN, 'psql'), ['-h', sock, '-p', String(opts.port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-Atc', sql]);
    return execFileSync(qc, qa, { stdio: 'pipe' }).toString().trim();
  };
  for (const stmt of docBlock('sql').split(';').map((s) => s.trim()).filter(Boolean)) psql(stmt);
  return {
    port: opts.port,
    host,
    dir,
    get pid() {
      return pid;
    },
    url: `postgres://harper_tls@${host}:${opts.port}/harper_tls`,
    psql: (sql) => psql(sql, 'harper_tls'),
    pause: () => signalTree(pid, 'SIGSTOP'),
    resume: () => signalTree(pid, 'SIGCONT'),
    async halt() {
      process.kill(pid, 'SIGINT'); // fast shutdown: sessions end, the port closes
      await exited(proc);
    },
    async restart() {
      proc = await launch();
      pid = readPid();
    },
    async stop() {
      try {
        signalTree(pid, 'SIGCONT');
        process.kill(pid, 'SIGQUIT');
      } catch {
        // gone
      }
      await exited(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function signalTree(pid: number, sig: NodeJS.Signals): void {
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString().split(/\s+/).filter(Boolean).map(Number);
  if (sig === 'SIGSTOP') process.kill(pid, sig);
  for (const c of children) process.kill(c, sig);
  if (sig === 'SIGCONT') process.kill(pid, sig);
}

/** Certificates made with the openssl CLI: a CA, the engine's server certificate (SAN IP), node client certificates. */
export function opensslPki(dir: string, opts: { engineHost: string; nodes: string[] }): { caPem: string; caPath: string; engineCertPem: string; engineKeyPem: string; node(name: string): { cert: string; key: string } } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test cluster CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = (name: string, cn: string, ext: string) => {
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('engine', opts.engineHost, `subjectAltName=IP:${opts.engineHost}\nextendedKeyUsage=serverAuth\n`);
  for (const n of opts.nodes) leaf(`cluster-${n}`, n, 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    caPem: read('ca.pem'),
    caPath: join(dir, 'ca.pem'),
    engineCertPem: read('engine.pem'),
    engineKeyPem: read('engine-key.pem'),
    node: (name) => ({ cert: join(dir, `cluster-${name}.pem`), key: join(dir, `cluster-${name}-key.pem`) }),
  };
}

/** The cluster configuration of node `node` on `engine`, over mTLS with its certificate from `pki`. */
export function nodeClusterConfig(engine: Pick<Engine, 'url' | 'port'>, pki: ReturnType<typeof opensslPki>, node: string, extra: Record<string, unknown> = {}): ClusterConfig {
  const tls = pki.node(node);
  return {
    nodeName: node,
    url: engine.url,
    engine: { user: 'harper_tls', host: '127.0.0.1', port: engine.port, database: 'harper_tls' },
    tls: { certificate: tls.cert, privateKey: tls.key, certificateAuthority: pki.caPath },
    pollInterval: 500,
    changeRetention: 86_400_000,
    ...extra,
  };
}
