#!/usr/bin/env node
// kill -9 during renew-certs, at every step of the key replacement and at random times.
//
//   pnpm --filter harper-tls build && node apps/harper-tls/scripts/crash-renew.mjs [ROUNDS] [RANDOM]
//
// Step kills: HARPER_TLS_CRASH_AT_STEP=N makes the CLI SIGKILL itself at the N-th step (temp-file
// write, fsync, journal, rename, directory fsync, unlink) of the replacement; every step of
// `renew-certs` and of `renew-certs --ca` is hit ROUNDS times (default 10). Random kills: RANDOM
// (default 200) kills by the parent at a random time over a whole run. After each kill, what every
// reader runs first (recoverKeysDir) runs, and the state must be usable: both pairs fit, the server
// certificate verifies against the CA, and each pair is entirely the old one or entirely a new
// one. Last, `start` must come up on the result. Prints one summary line; exit 1 on any failure.
import { spawn, execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSelfSignedCertificates, recoverKeysDir } from '@harper-tls/cert-gen';

const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../dist/cli.js');
const ROUNDS = Number(process.argv[2] ?? 10);
const RANDOM = Number(process.argv[3] ?? 200);
const root = mkdtempSync(join(tmpdir(), 'harper-tls-crash-renew-'));
const keys = join(root, 'keys');
const FILES = ['ca.pem', 'ca-privateKey.pem', 'certificate.pem', 'privateKey.pem'];

function runCli(args, env = {}, killAfterMs) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, HOME: root, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stderr });
    });
  });
}

const hashes = () => Object.fromEntries(FILES.map((f) => [f, createHash('sha256').update(readFileSync(join(keys, f))).digest('hex')]));

function problems(before, renewsCa) {
  const out = [];
  const fits = (cert, key) => {
    try {
      return new X509Certificate(readFileSync(join(keys, cert))).checkPrivateKey(createPrivateKey(readFileSync(join(keys, key))));
    } catch (e) {
      out.push(`${cert}/${key}: ${e.message}`);
      return false;
    }
  };
  if (!fits('ca.pem', 'ca-privateKey.pem')) out.push('ca-privateKey.pem does not match ca.pem');
  if (!fits('certificate.pem', 'privateKey.pem')) out.push('privateKey.pem does not match certificate.pem');
  try {
    execFileSync('openssl', ['verify', '-CAfile', join(keys, 'ca.pem'), join(keys, 'certificate.pem')], { stdio: 'pipe' });
  } catch {
    out.push('certificate.pem does not verify against ca.pem');
  }
  const now = hashes();
  const changed = FILES.filter((f) => now[f] !== before[f]);
  const server = ['certificate.pem', 'privateKey.pem'];
  const all = renewsCa ? FILES : server;
  // All old, or all of the renewed set new: never a part of one replacement.
  if (changed.length && changed.length !== all.length) out.push(`a mix: only ${changed.join(', ')} changed`);
  if (!renewsCa && changed.some((f) => !server.includes(f))) out.push('the CA changed without --ca');
  return out;
}

const failures = [];
let points = 0;
let midway = 0;
let recoveredRuns = 0;
await ensureSelfSignedCertificates({ keysDir: keys });

async function killPoint(label, args, env, killAfterMs) {
  const before = hashes();
  const r = await runCli(args, env, killAfterMs);
  points++;
  if (r.signal === 'SIGKILL') midway++;
  else if (r.code !== 0) failures.push(`${label}: exit ${r.code}: ${r.stderr.trim()}`);
  if (recoverKeysDir(keys).length) recoveredRuns++;
  const p = problems(before, args.includes('--ca'));
  if (p.length) failures.push(`${label}: ${p.join('; ')}`);
}

// Steps of one replacement: kill at N until a run gets through (exit 0).
const steps = {};
for (const ca of [false, true]) {
  const args = ['renew-certs', '--root', root, ...(ca ? ['--ca'] : [])];
  let n = 1;
  for (;; n++) {
    const before = hashes();
    const r = await runCli(args, { HARPER_TLS_CRASH_AT_STEP: String(n) });
    recoverKeysDir(keys);
    const p = problems(before, ca);
    if (p.length) failures.push(`${args.slice(2).join(' ') || 'renew'} step ${n}: ${p.join('; ')}`);
    points++;
    if (r.signal !== 'SIGKILL') break;
    midway++;
    if (n > 100) throw new Error('no end to the steps');
  }
  steps[ca ? 'ca' : 'server'] = n - 1;
  for (let round = 1; round < ROUNDS; round++) {
    for (let s = 1; s <= n - 1; s++) await killPoint(`${ca ? '--ca ' : ''}step ${s} round ${round}`, args, { HARPER_TLS_CRASH_AT_STEP: String(s) });
  }
}

// Random times over a whole run (calibrated on one).
const t0 = Date.now();
await runCli(['renew-certs', '--root', root]);
const window = Math.ceil((Date.now() - t0) * 1.3);
for (let i = 0; i < RANDOM; i++) {
  const ca = i % 4 === 0;
  const delay = Math.floor(Math.random() * window);
  await killPoint(`random ${i} at ${delay} ms${ca ? ' --ca' : ''}`, ['renew-certs', '--root', root, ...(ca ? ['--ca'] : [])], {}, delay);
}

// start comes up on what the kills left.
const freePort = () => new Promise((done) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => done(port)); }); });
const start = spawn(process.execPath, [CLI, 'start', '--root', root, '--HTTP_PORT', String(await freePort()), '--OPERATIONSAPI_NETWORK_PORT', String(await freePort())], { env: { PATH: process.env.PATH, HOME: root, HDB_ADMIN_PASSWORD: 'crash-test' }, stdio: ['ignore', 'pipe', 'pipe'] });
let startOut = '';
let startErr = '';
start.stderr.on('data', (d) => (startErr += d));
const started = await new Promise((done) => {
  const timer = setTimeout(() => done(false), 30_000);
  start.stdout.on('data', (d) => {
    startOut += d;
    if (startOut.includes('operations ')) {
      clearTimeout(timer);
      done(true);
    }
  });
  start.once('exit', () => done(false));
});
start.kill('SIGTERM');
if (!started) failures.push(`start did not come up: ${startErr.trim() || startOut.trim()}`);

rmSync(root, { recursive: true, force: true });
console.log(`crash-renew: ${points} kill points (steps per replacement: renew ${steps.server}, renew --ca ${steps.ca}, each x${ROUNDS}; ${RANDOM} at random times), ${midway} killed mid-run, ${recoveredRuns} finished by recovery, ${failures.length} unusable states; start ${started ? 'came up' : 'FAILED'}`);
for (const f of failures.slice(0, 20)) console.log(`  ${f}`);
process.exit(failures.length ? 1 : 0);
