// Packs every workspace package, installs the tarballs into a clean npm project (no workspace,
// no pnpm), and runs every README code block marked ```js example as written against them, with
// real TLS: the example's https server gets ca.pem / server.pem / server-key.pem made here,
// client certificates carry a CRL URL served by this script, and for each example
//   alice (valid)   → 200 with "alice" in the body
//   bob (revoked)   → 401 {"error":"Certificate revoked or verification failed"}
//   no certificate  → refused (handshake or 401)
// Also checks that @harper-tls/mtls-auth alone installs no lmdb, no cert-gen, no install script.
// Usage: pnpm test:packed   (builds first). Needs the npm registry for express, fastify, koa.
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAll, ROOT, workspacePackages } from './pack-all.mjs';

const { createCA, createCrl, issueCertificate } = await import(join(ROOT, 'packages/cert-gen/dist/index.js'));

const work = mkdtempSync(join(tmpdir(), 'harper-tls-packed-'));
const project = join(work, 'project');
const failures = [];
const step = (msg) => console.log(`- ${msg}`);
const fail = (msg) => {
  failures.push(msg);
  console.error(`  FAIL ${msg}`);
};

/** Every ```js example (an mTLS server) and ```js run (runs and exits 0) block of every package README. */
function readmeExamples() {
  const out = [];
  for (const { dir } of workspacePackages()) {
    const file = join(dir, 'README.md');
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^```js (example|run)\n([\s\S]*?)^```$/gm)) out.push({ file: file.slice(ROOT.length + 1), index: out.length, kind: m[1], code: m[2] });
  }
  return out;
}

function npm(args) {
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, npm_config_userconfig: join(work, 'npmrc') } });
}

function get(port, who, pki) {
  return new Promise((resolve) => {
    const creds = who ? { key: pki[who].privateKeyPem, cert: pki[who].certificatePem + pki.inter.certificatePem } : {};
    const req = request({ host: '127.0.0.1', port, path: '/', servername: 'localhost', ca: pki.root.certificatePem, agent: false, ...creds }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ status: 0, body: err.code ?? err.message }));
    req.end();
  });
}

/** Runs one example in the project until it listens; resolves { port, stop }. */
function startExample(path) {
  return new Promise((resolve, reject) => {
    const child = fork(path, { cwd: project, env: { ...process.env, PORT: '0' }, execArgv: ['--import', join(ROOT, 'scripts/listen-reporter.mjs')], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => (child.kill(), reject(new Error(`did not listen within 20 s\n${stderr}`))), 20_000);
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`exited with ${code} before listening\n${stderr}`))));
    child.once('message', (m) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ port: m.port, stderr: () => stderr, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill()))) });
    });
  });
}

/** Compiles only if the adapters' types and declaration merging work for a user. */
const TYPES_CONSUMER = `import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { mtls as expressMtls, type MtlsUser, type ClientCertificate } from '@harper-tls/mtls-auth/express';
import { mtls as fastifyMtls } from '@harper-tls/mtls-auth/fastify';
import { mtls as koaMtls } from '@harper-tls/mtls-auth/koa';
import { createMtlsCore, createMemoryUserStore } from '@harper-tls/mtls-auth';

const e = express();
e.use(expressMtls({ revocation: {}, users: async (name) => ({ username: name, role: 'reader' }) }));
e.get('/', (req, res) => {
  const user: MtlsUser | null | undefined = req.user;
  const cert: ClientCertificate | null | undefined = req.clientCertificate;
  res.json({ name: user?.username, by: user?.authenticatedBy, fp: cert?.fingerprint256 });
});

const f = Fastify();
await f.register(fastifyMtls, { required: false, revocation: { ocsp: false } });
f.get('/', async (request) => ({ name: request.user?.username ?? null, san: request.clientCertificate?.san ?? [] }));

const k = new Koa();
k.use(koaMtls({ user: null }));
k.use((ctx) => { ctx.body = { user: ctx.state.user }; });

// @ts-expect-error an unknown revocation key is a type error as well as a run-time one
expressMtls({ revocation: { crl: { timout: 1 } } });
void createMtlsCore; void createMemoryUserStore;
`;

const crls = new Map();
const crlServer = createHttpServer((req, res) => {
  const body = crls.get(req.url);
  if (!body) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': body.length }).end(body);
});

const started = Date.now();
try {
  step('packing every package');
  const tarballs = Object.fromEntries(packAll(work).map((p) => [p.name, p.tarball]));

  step('installing @harper-tls/mtls-auth alone from its tarball into a clean npm project');
  const ours = ['@harper-tls/config', '@harper-tls/revocation', '@harper-tls/mtls-auth'];
  const fileDeps = Object.fromEntries(ours.map((n) => [n, `file:${tarballs[n]}`]));
  const allOurs = Object.fromEntries(Object.entries(tarballs).filter(([n]) => n.startsWith('@harper-tls/')).map(([n, t]) => [n, `file:${t}`]));
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(work, 'npmrc'), 'update-notifier=false\n');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'packed-examples', private: true, type: 'module', dependencies: fileDeps, overrides: allOurs }, null, 2));
  npm(['install']);
  const installed = readdirSync(join(project, 'node_modules'));
  for (const unwanted of ['lmdb', 'msgpackr-extract']) if (installed.includes(unwanted)) fail(`mtls-auth alone installed ${unwanted}`);
  if (existsSync(join(project, 'node_modules/@harper-tls/cert-gen'))) fail('mtls-auth alone installed @harper-tls/cert-gen');
  const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'));
  const scripted = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([k]) => k);
  if (scripted.length) fail(`mtls-auth alone installed packages with install scripts: ${scripted.join(', ')}`);
  step(`installed ${Object.keys(lock.packages).length - 1} packages, no native module`);

  step('adding the other packages from their tarballs, and express, fastify, koa from the registry');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'packed-examples', private: true, type: 'module', dependencies: { ...allOurs, express: '^5', fastify: '^5', koa: '^3' }, overrides: allOurs }, null, 2));
  npm(['install']);

  step('types as a TypeScript user sees them (tsc, strict, NodeNext): req.user, request.user, ctx.state.user');
  // skipLibCheck as most projects: @types/koa 3 does not compile against content-disposition 1's own types
  npm(['install', '@types/express@^5', '@types/koa@^3', '@types/node@^20']);
  writeFileSync(join(project, 'consumer.ts'), TYPES_CONSUMER);
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['consumer.ts'] }));
  try {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    fail(`tsc on consumer.ts:\n${err.stdout}${err.stderr}`);
  }

  step('certificates: root → server; root → issuing CA (CRL) → alice, bob (revoked)');
  await new Promise((r) => crlServer.listen(0, '127.0.0.1', r));
  const url = (n) => `http://127.0.0.1:${crlServer.address().port}/${n}.crl`;
  const root = await createCA({ commonName: 'Packed Examples Root' });
  const inter = await createCA({ commonName: 'Packed Examples Issuing CA', issuer: root, pathLength: 0, crlUrl: url('root') });
  const server = await issueCertificate({ ca: root, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
  const alice = await issueCertificate({ ca: inter, kind: 'client', commonName: 'alice', crlUrl: url('inter') });
  const bob = await issueCertificate({ ca: inter, kind: 'client', commonName: 'bob', crlUrl: url('inter') });
  const nextUpdate = new Date(Date.now() + 86_400_000);
  crls.set('/root.crl', await createCrl({ ca: root, crlNumber: 1, revoked: [], nextUpdate }));
  crls.set('/inter.crl', await createCrl({ ca: inter, crlNumber: 1, revoked: [{ serialHex: bob.serialHex, revokedAt: new Date() }], nextUpdate }));
  writeFileSync(join(project, 'ca.pem'), root.certificatePem);
  writeFileSync(join(project, 'server.pem'), server.certificatePem);
  writeFileSync(join(project, 'server-key.pem'), server.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(project, 'cert.pem'), server.certificatePem);
  writeFileSync(join(project, 'key.pem'), server.privateKeyPem, { mode: 0o600 });
  const pki = { root, inter, alice, bob };

  const examples = readmeExamples();
  if (examples.filter((e) => e.file.includes('mtls-auth') && e.kind === 'example').length < 3) fail('expected the three adapter examples');
  for (const ex of examples) {
    const label = `${ex.file} example ${ex.index + 1} (${[...ex.code.matchAll(/from '(@harper-tls\/[^']+)'/g)].map((m) => m[1]).join(', ') || '?'})`;
    step(label);
    if (ex.kind === 'run') {
      const dir = join(project, `run-${ex.index + 1}`);
      execFileSync('mkdir', ['-p', dir]);
      writeFileSync(join(dir, 'example.mjs'), ex.code);
      try {
        const out = execFileSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
        console.log(out.trim().split('\n').map((l) => `  | ${l}`).join('\n'));
      } catch (err) {
        fail(`${label}: exited with ${err.status ?? err.signal}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      }
      continue;
    }
    const path = join(project, `example-${ex.index + 1}.mjs`);
    writeFileSync(path, ex.code);
    let app;
    try {
      app = await startExample(path);
    } catch (err) {
      fail(`${label}: ${err.message}`);
      continue;
    }
    try {
      const ok = await get(app.port, 'alice', pki);
      if (ok.status !== 200 || !ok.body.includes('alice')) fail(`${label}: alice got ${ok.status} ${ok.body}`);
      const revoked = await get(app.port, 'bob', pki);
      const json = /^\{/.test(revoked.body) ? JSON.parse(revoked.body) : undefined;
      if (revoked.status !== 401 || (json ? json.error !== 'Certificate revoked or verification failed' : !/revoked/i.test(revoked.body))) fail(`${label}: revoked bob got ${revoked.status} ${revoked.body}`);
      const anonymous = await get(app.port, undefined, pki);
      if (anonymous.status === 200) fail(`${label}: a client without certificate got 200`);
      console.log(`  alice ${ok.status}, revoked bob ${revoked.status}, no certificate ${anonymous.status || anonymous.body}`);
    } finally {
      await app.stop();
    }
  }
} catch (err) {
  fail(err.stack ?? String(err));
} finally {
  crlServer.closeAllConnections?.();
  crlServer.close();
  if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
}
console.log(`${failures.length ? 'FAILED' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures.length ? 1 : 0);
