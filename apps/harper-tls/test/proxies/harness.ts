import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { curl, exec, freePort, run, runToEnd, tempRoot, type Run } from '../helpers/run.js';

/** The recipes of docs/proxies/: the files the docs show are the files these tests run. */
export const DOCS = resolve(__dirname, '../../../../docs/proxies');

/** Fails (never skips) when a Debian package the test needs as a real peer is missing. */
export function requireBinary(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package "${pkg}" (apt-get install ${pkg}); .ci/run installs it`);
}

/** A docs file with its {{PLACEHOLDERS}} filled; an unfilled one is an error. */
export function recipe(file: string, vars: Record<string, string | number>): string {
  const text = readFileSync(join(DOCS, file), 'utf8').replace(/\{\{(\w+)\}\}/g, (m, k: string) => {
    if (!(k in vars)) throw new Error(`${file}: no value for ${m}`);
    return String(vars[k]);
  });
  return text;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (bounded). */
export async function waitForPort(port: number, what: string, timeoutMs = 20_000, child?: ChildProcess, output?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before listening on ${port}: ${output?.() ?? ''}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms: ${output?.() ?? ''}`);
}

export interface Peer {
  stop(): Promise<void>;
  output(): string;
}

function spawnPeer(file: string, args: string[], ports: number[], what: string): Promise<Peer> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const peer: Peer = {
    output: () => out,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
  return Promise.all(ports.map((p) => waitForPort(p, what, 20_000, child, () => out))).then(
    () => peer,
    async (err) => {
      await peer.stop();
      throw err;
    },
  );
}

/** nginx from the Debian package, with its own prefix, pid and error log in a temp dir. */
export async function startNginx(dir: string, conf: string, ports: number[]): Promise<Peer> {
  requireBinary('/usr/sbin/nginx', 'nginx-light');
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return spawnPeer('/usr/sbin/nginx', ['-p', dir, '-c', file, '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')} warn;`], ports, 'nginx');
}

/** HAProxy from the Debian package, in the foreground (-db). */
export async function startHaproxy(dir: string, name: string, conf: string, ports: number[]): Promise<Peer> {
  requireBinary('/usr/sbin/haproxy', 'haproxy');
  const file = join(dir, name);
  writeFileSync(file, conf);
  return spawnPeer('/usr/sbin/haproxy', ['-f', file, '-db'], ports, 'haproxy');
}

/** The clients of the tests: from the local CA (alice, carol good; bob revoked), plus expired and foreign-CA ones made with openssl. */
export interface Clients {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Server certificate and key in one file (HAProxy's `crt`). */
  serverPem: string;
  cert(name: 'alice' | 'bob' | 'carol' | 'expired' | 'foreign'): { cert: string; key: string; pem: string };
}

const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';

export async function makeClients(root: string): Promise<Clients> {
  const dir = join(root, 'clients');
  for (const cn of ['alice', 'bob', 'carol']) {
    const r = await runToEnd(['cert', 'issue', '--root', root, '--cn', cn, '--out', dir]);
    if (r.code !== 0) throw new Error(`cert issue ${cn}: ${r.stderr}`);
  }
  const rv = await runToEnd(['cert', 'revoke', '--root', root, join(dir, 'bob.pem')]);
  if (rv.code !== 0) throw new Error(`cert revoke: ${rv.stderr}`);
  const keys = join(root, 'keys');
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // Expired: the local CA's own key signs CN=alice valid last month (openssl ca takes explicit dates).
  o('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=alice', '-keyout', 'expired-key.pem', '-out', 'expired.csr');
  writeFileSync(join(dir, 'expired.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  writeFileSync(join(dir, 'idx'), '');
  writeFileSync(join(dir, 'ca.cnf'), `[ca]\ndefault_ca=c\n[c]\ndatabase=idx\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n`);
  writeFileSync(join(dir, 'serial'), '7e57e57e\n');
  const day = 86_400_000;
  o('ca', '-batch', '-notext', '-config', 'ca.cnf', '-cert', join(keys, 'ca.pem'), '-keyfile', join(keys, 'ca-privateKey.pem'), '-in', 'expired.csr', '-out', 'expired.pem', '-startdate', stamp(new Date(Date.now() - 40 * day)), '-enddate', stamp(new Date(Date.now() - 10 * day)), '-extfile', 'expired.ext');
  // Foreign: CN=alice from a CA harper-tls does not trust.
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Foreign CA', '-keyout', 'foreign-ca-key.pem', '-out', 'foreign-ca.pem', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  o('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=alice', '-keyout', 'foreign-key.pem', '-out', 'foreign.csr');
  o('x509', '-req', '-in', 'foreign.csr', '-CA', 'foreign-ca.pem', '-CAkey', 'foreign-ca-key.pem', '-set_serial', '0x1234', '-days', '20', '-extfile', 'expired.ext', '-out', 'foreign.pem');
  const serverPem = join(dir, 'server-with-key.pem');
  writeFileSync(serverPem, readFileSync(join(keys, 'certificate.pem'), 'utf8') + readFileSync(join(keys, 'privateKey.pem'), 'utf8'));
  return {
    dir,
    ca: join(keys, 'ca.pem'),
    serverCert: join(keys, 'certificate.pem'),
    serverKey: join(keys, 'privateKey.pem'),
    serverPem,
    cert: (name) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`), pem: readFileSync(join(dir, `${name}.pem`), 'utf8') }),
  };
}

/** A harper-tls started by the CLI in this process with the given `http:` section lines; users alice, bob, carol exist. */
export async function startHarperTls(httpLines: (ports: { http: number; https: number; ops: number }) => string[], extra: string[] = []) {
  const { root, cleanup } = tempRoot();
  const ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
  writeFileSync(
    join(root, 'harperdb-config.yaml'),
    ['http:', ...httpLines(ports).map((l) => `  ${l}`), 'operationsApi:', '  network:', `    port: ${ports.ops}`, 'logging:', '  level: info', '  auditAuthEvents:', '    logFailed: true', '    logSuccessful: true', ...extra, ''].join('\n'),
  );
  const server: Run = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' });
  await server.waitFor('operations ');
  for (const username of ['alice', 'bob', 'carol']) {
    const r = await opsCall(ports.ops, { operation: 'add_user', username, password: `${username}-pw`, role: 'reader', active: true });
    if (r.status !== 200) throw new Error(`add_user ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return {
    root,
    ports,
    server,
    log: () => (existsSync(join(root, 'log', 'hdb.log')) ? readFileSync(join(root, 'log', 'hdb.log'), 'utf8') : ''),
    async stop() {
      await server.stop();
      cleanup();
    },
  };
}

export async function opsCall(port: number, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return curlJson(['-u', 'admin:admin-pw', '-H', 'content-type: application/json', '-d', JSON.stringify(body), `http://127.0.0.1:${port}/`]);
}

export async function curlJson(args: string[]): Promise<{ status: number; body: any }> {
  const r = await curl(args);
  let body: unknown = r.body;
  try {
    body = JSON.parse(r.body);
  } catch {}
  return { status: r.status, body };
}

/** The value of a counter line on /metrics (0 when absent). */
export async function metric(opsPort: number, line: RegExp): Promise<number> {
  const r = await curl(['-u', 'admin:admin-pw', `http://127.0.0.1:${opsPort}/metrics`]);
  const m = r.body.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').pop()) : 0;
}

/** Waits (bounded) until the server log has a line matching `re`; returns it parsed. */
export async function logLine(read: () => string, re: RegExp, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = read().split('\n').find((l) => re.test(l));
    if (line) return JSON.parse(line);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line matching ${re} within ${timeoutMs} ms`);
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'harper-tls-proxy-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export { curl, exec, freePort };
