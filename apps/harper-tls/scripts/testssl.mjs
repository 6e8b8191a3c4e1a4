#!/usr/bin/env node
// testssl.sh side by side: `harper-tls start`, a bare Node `https.createServer` and nginx (its
// default TLS settings), all with the same certificate (the one harper-tls generates on first
// start), scanned on 127.0.0.1 with the same testssl checks. Prints a markdown table of every
// finding above OK/INFO on any of the three, and exits 1 when harper-tls has a finding above LOW
// that nginx does not also have. Not part of the test suite (several minutes).
//
//   pnpm --filter harper-tls build && node apps/harper-tls/scripts/testssl.mjs
//   TESTSSL_CHECKS="-p -s -P -S -U -h" TESTSSL_OUT=/tmp/testssl node apps/harper-tls/scripts/testssl.mjs
//
// Needs testssl (Debian package testssl.sh) and nginx (nginx-light) on PATH.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../dist/cli.js');
const CHECKS = (process.env.TESTSSL_CHECKS ?? '--protocols --std --server-preference --server-defaults --vulnerable --headers').split(/\s+/).filter(Boolean);
const OUT = process.env.TESTSSL_OUT ?? mkdtempSync(join(tmpdir(), 'harper-tls-testssl-out-'));
const TESTSSL = process.env.TESTSSL ?? 'testssl';
mkdirSync(OUT, { recursive: true });
const RANK = { OK: 0, INFO: 0, WARN: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

/** Resolves once 127.0.0.1:port accepts a connection, polling for at most `ms`. */
async function accepting(port, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((r) => {
      const c = connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Spawns a server and resolves when `ready` appears in its output (or its port accepts). */
function startChild(name, cmd, args, opts, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  const done = new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${name} did not start: ${out}`)), 30_000);
    const onData = (d) => {
      out += d;
      if (ready && ready.test(out)) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => rej(new Error(`${name} exited (${code}): ${out}`)));
    if (!ready) {
      clearTimeout(timer);
      res();
    }
  });
  return { child, done };
}

function scan(name, port, caFile) {
  const json = join(OUT, `${name}.json`);
  rmSync(json, { force: true });
  const t0 = Date.now();
  // The host name the certificate carries, the address 127.0.0.1; the generated CA added to the trust store.
  const args = [...CHECKS, '--quiet', '--color', '0', '--warnings', 'off', '--add-ca', caFile, '--ip', '127.0.0.1', '--jsonfile', json, `localhost:${port}`];
  return new Promise((res, rej) => {
    const p = spawn(TESTSSL, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.stderr.on('data', (d) => (text += d));
    p.on('error', rej);
    p.on('close', () => {
      try {
        writeFileSync(join(OUT, `${name}.txt`), text);
        const findings = JSON.parse(readFileSync(json, 'utf8'));
        process.stderr.write(`${name}: ${findings.length} findings in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        res(findings);
      } catch (err) {
        rej(new Error(`testssl on ${name} wrote no JSON: ${text.slice(-2000)}`));
      }
    });
  });
}

const root = mkdtempSync(join(tmpdir(), 'harper-tls-testssl-'));
const children = [];
const stopAll = () => children.forEach((c) => c.kill('SIGTERM'));
process.once('SIGINT', () => (stopAll(), process.exit(130)));
try {
  const [harperPort, httpPort, opsPort, nodePort, nginxPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const harper = startChild('harper-tls', process.execPath, [CLI, 'start', '--root', root, '--HTTP_PORT', String(httpPort), '--HTTP_SECUREPORT', String(harperPort), '--OPERATIONSAPI_NETWORK_PORT', String(opsPort)], { env: { PATH: process.env.PATH, HOME: root, HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'testssl-admin-pw' } }, /operations +listening/);
  children.push(harper.child);
  await harper.done;
  const keys = join(root, 'keys');
  const cert = join(keys, 'certificate.pem');
  const key = join(keys, 'privateKey.pem');
  const ca = join(keys, 'ca.pem');

  const bare = `const fs=require('fs');require('https').createServer({cert:fs.readFileSync(${JSON.stringify(cert)}),key:fs.readFileSync(${JSON.stringify(key)})},(q,r)=>r.end('ok')).listen(${nodePort},'127.0.0.1',()=>console.log('ready'))`;
  const node = startChild('node https', process.execPath, ['-e', bare], {}, /ready/);
  children.push(node.child);

  const ngx = join(root, 'nginx');
  mkdirSync(join(ngx, 'logs'), { recursive: true });
  writeFileSync(
    join(ngx, 'nginx.conf'),
    [
      'daemon off;', 'master_process off;', `pid ${ngx}/nginx.pid;`, `error_log ${ngx}/logs/error.log;`, 'events {}',
      'http {', `  access_log off; client_body_temp_path ${ngx}; proxy_temp_path ${ngx}; fastcgi_temp_path ${ngx}; uwsgi_temp_path ${ngx}; scgi_temp_path ${ngx};`,
      `  server { listen 127.0.0.1:${nginxPort} ssl; ssl_certificate ${cert}; ssl_certificate_key ${key}; location / { return 200 'ok'; } }`, '}', '',
    ].join('\n'),
  );
  const nginx = startChild('nginx', 'nginx', ['-p', ngx, '-c', join(ngx, 'nginx.conf'), '-e', join(ngx, 'logs', 'error.log')], {}, null);
  children.push(nginx.child);
  await Promise.all([node.done, nginx.done, accepting(nodePort), accepting(nginxPort)]);

  const versions = {
    testssl: /testssl\s+(\S+)/.exec(execFileSync(TESTSSL, ['--version'], { encoding: 'utf8' }).replace(/\x1b\[[0-9;]*m/g, ''))?.[1],
    nginx: execFileSync('nginx', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || '',
  };
  const targets = [['harper-tls', harperPort], ['node https', nodePort], ['nginx', nginxPort]];
  const results = {};
  for (const [name, port] of targets) results[name] = await scan(name.replace(/\W+/g, '-'), port, ca);

  // Findings by id; the scanner's own notices (engine, local OpenSSL lacking a cipher) are not about the servers.
  const scannerOnly = (f) => f.severity === 'WARN' || f.id === 'engine_problem' || /not supported by local OpenSSL/.test(f.finding);
  const byId = new Map();
  for (const [name] of targets) for (const f of results[name]) {
    if (scannerOnly(f)) continue;
    const key = f.id;
    if (!byId.has(key)) byId.set(key, {});
    const row = byId.get(key);
    // Some ids repeat (one per cipher, per header): keep the worst.
    if (!row[name] || RANK[f.severity] > RANK[row[name].severity]) row[name] = f;
  }
  const cell = (f) => (f ? `${f.severity} ${f.finding.replace(/\|/g, '/').slice(0, 70)}` : '—');
  const always = ['cipherlist_AVERAGE', 'cipherlist_STRONG', 'secure_client_renego', 'LUCKY13', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'cipher_order', 'TLS_session_ticket', 'sessionresumption_ticket'];
  const rows = [...byId.entries()].filter(([id, row]) => always.includes(id) || Object.values(row).some((f) => RANK[f.severity] >= 1));
  const lines = [];
  lines.push(`testssl ${versions.testssl} \`${CHECKS.join(' ')}\` on 127.0.0.1, ${new Date().toISOString()}; Node ${process.version}; ${versions.nginx.trim() || 'nginx'} (default TLS settings); one certificate for all (harper-tls's generated EC P-256, its CA added with --add-ca).`);
  lines.push('');
  lines.push(`| finding | ${targets.map(([n]) => n).join(' | ')} |`);
  lines.push(`|---|${targets.map(() => '---').join('|')}|`);
  for (const [id, row] of rows.sort(([a], [b]) => a.localeCompare(b))) lines.push(`| ${id} | ${targets.map(([n]) => cell(row[n])).join(' | ')} |`);
  const worse = rows.filter(([, row]) => RANK[row['harper-tls']?.severity] >= 2 && !(RANK[row.nginx?.severity] >= RANK[row['harper-tls'].severity]));
  lines.push('');
  lines.push(worse.length ? `**harper-tls has ${worse.length} finding(s) above LOW that nginx does not: ${worse.map(([id]) => id).join(', ')}**` : 'harper-tls: nothing above LOW that nginx does not also have.');
  lines.push(`Raw output: ${OUT}`);
  console.log(lines.join('\n'));
  process.exitCode = worse.length ? 1 : 0;
} finally {
  stopAll();
  rmSync(root, { recursive: true, force: true });
}
