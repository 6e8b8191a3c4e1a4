#!/usr/bin/env node
/**
 * @harper-tls/cert-gen benchmark: `pnpm --filter @harper-tls/cert-gen bench`
 * (= pnpm run build && node bench/run.mjs). Measures the built package (dist/).
 *
 * 1. Certificates issued per second, per key type: a new key pair plus a server certificate
 *    (SANs DNS, wildcard, IPv4, IPv6; SKI/AKI; EKU) signed by a CA of the same key type.
 *    Baselines doing the same work in the same run:
 *    - `openssl req -x509 -CA ca.pem -CAkey ca-key.pem -newkey ...` (one process per certificate),
 *    - `openssl genpkey` + `openssl req -new` + `openssl x509 -req` (three processes),
 *    - floors: node:crypto generateKeyPair alone (the key generation every contender pays), and
 *      spawning `openssl version` (the process cost inside every openssl figure). "openssl minus
 *      spawn" subtracts that floor, an estimate of what openssl would cost in-process.
 * 2. CRL signing for 1k / 100k / 1M revoked entries (random 127-bit serials, distinct revocation
 *    seconds, reason keyCompromise, CRL number + AKI, ECDSA P-256): createCrl from an in-memory
 *    entry list vs `openssl ca -gencrl` over an index.txt holding the same entries (its time
 *    includes reading the index, which is its input format, and writing PEM).
 *
 * Knobs: BENCH_QUICK=1 (skips 1M, shorter budgets), BENCH_BUDGET_MS (per measurement, default
 * 2000; 800 quick), BENCH_KEY_TYPES (comma list, default all).
 */
import { execFile } from 'node:child_process';
import { generateKeyPair, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const { createCA, createCrl, issueCertificate, KEY_TYPES } = await import('../dist/index.js');

const run = promisify(execFile);
const genKey = promisify(generateKeyPair);
const QUICK = process.env.BENCH_QUICK === '1';
const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? (QUICK ? 800 : 2000));
const MIN_SAMPLES = 3;
const keyTypes = process.env.BENCH_KEY_TYPES ? process.env.BENCH_KEY_TYPES.split(',') : KEY_TYPES;
const CRL_SIZES = QUICK ? [1_000, 100_000] : [1_000, 100_000, 1_000_000];
const dir = mkdtempSync(join(os.tmpdir(), 'certgen-bench-'));
const file = (name) => join(dir, name);
const started = Date.now();

/**
 * Runs `fn` one call at a time for BUDGET_MS (at least MIN_SAMPLES calls) after one warm-up
 * call; a warm-up slower than 250 ms (RSA key generation) is counted as a sample, since there
 * is nothing to warm up. Returns the mean and median in ms.
 */
async function measure(fn, { budget = BUDGET_MS, min = MIN_SAMPLES } = {}) {
  const samples = [];
  let t0 = performance.now();
  await fn();
  const warm = performance.now() - t0;
  if (warm > 250) samples.push(warm);
  const start = performance.now();
  while (samples.length < min || (performance.now() - start < budget && samples.length < 2000)) {
    t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { n: samples.length, mean, median: samples[samples.length >> 1] };
}

/** Operations per second with `inflight` calls of `fn` kept running for `budget` ms. */
async function throughput(fn, inflight, budget = BUDGET_MS) {
  await Promise.all(Array.from({ length: inflight }, () => fn())); // warm-up
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() - start < budget) {
        await fn();
        done++;
      }
    }),
  );
  return (done * 1000) / (performance.now() - start);
}

const openssl = (args) => run('openssl', args, { maxBuffer: 1 << 20 });

const NEWKEY = {
  'ec-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-newkey', 'ed25519'],
  'rsa-2048': ['-newkey', 'rsa:2048'],
  'rsa-3072': ['-newkey', 'rsa:3072'],
  'rsa-4096': ['-newkey', 'rsa:4096'],
};
const GENPKEY = {
  'ec-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-algorithm', 'ED25519'],
  'rsa-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'rsa-3072': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'],
  'rsa-4096': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096'],
};
const DIGEST = { 'ec-p256': ['-sha256'], 'ec-p384': ['-sha384'], ed25519: [], 'rsa-2048': ['-sha256'], 'rsa-3072': ['-sha256'], 'rsa-4096': ['-sha256'] };
const NODE_KEYGEN = {
  'ec-p256': ['ec', { namedCurve: 'P-256' }],
  'ec-p384': ['ec', { namedCurve: 'P-384' }],
  ed25519: ['ed25519', {}],
  'rsa-2048': ['rsa', { modulusLength: 2048 }],
  'rsa-3072': ['rsa', { modulusLength: 3072 }],
  'rsa-4096': ['rsa', { modulusLength: 4096 }],
};
/** RSA key generation time varies a lot (prime search), so slow key types get more samples than the time budget allows. */
const MIN_FOR = { 'rsa-2048': 10, 'rsa-3072': 5, 'rsa-4096': 3 };
const SANS = ['DNS:example.com', 'DNS:*.example.com', 'IP:10.0.0.1', 'IP:::1'];

// The same extensions issueCertificate writes for a server certificate.
writeFileSync(
  file('leaf.cnf'),
  `[req]
distinguished_name = dn
prompt = no
[dn]
CN = example.com
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:example.com,DNS:*.example.com,IP:10.0.0.1,IP:::1
`,
);

const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const perSec = (m) => 1000 / m.mean;

function machine() {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

console.log(`# @harper-tls/cert-gen bench, ${new Date(started).toISOString()}`);
console.log(`node ${process.version}, ${(await openssl(['version'])).stdout.trim()}`);
console.log(`machine: ${machine()}`);
console.log(`mode: ${QUICK ? 'BENCH_QUICK' : 'full'}, budget ${BUDGET_MS} ms per measurement (min ${MIN_SAMPLES} samples; RSA 2048/3072/4096: 10/5/3), one operation at a time unless said otherwise\n`);

// ---- 1. certificates per second -------------------------------------------------------------

const spawnFloor = await measure(() => openssl(['version']));
console.log(`spawn floor (\`openssl version\` from node): ${fmt(spawnFloor.mean, 2)} ms mean\n`);
console.log('## Certificates issued per second (new key + CA-signed server certificate)\n');
console.log('| key type | ours (certs/s) | openssl req -x509 -CA (certs/s) | openssl minus spawn (est.) | genpkey + req + x509 -req (certs/s) | node keygen alone (keys/s) | ours / openssl req | ours / openssl minus spawn |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
const certRows = [];
for (const keyType of keyTypes) {
  const ca = await createCA({ commonName: `Bench CA ${keyType}`, keyType });
  writeFileSync(file('ca.pem'), ca.certificatePem);
  writeFileSync(file('ca-key.pem'), ca.privateKeyPem, { mode: 0o600 });
  const opts = { min: MIN_FOR[keyType] ?? MIN_SAMPLES };
  const ours = await measure(() => issueCertificate({ ca, kind: 'server', keyType, commonName: 'example.com', sans: SANS }), opts);
  const req = await measure(() =>
    openssl(['req', '-x509', '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'), ...NEWKEY[keyType], '-noenc', '-keyout', file('k.pem'), '-out', file('c.pem'), '-config', file('leaf.cnf'), '-extensions', 'leaf', '-days', '365', ...DIGEST[keyType]]),
    opts,
  );
  const three = await measure(async () => {
    await openssl(['genpkey', ...GENPKEY[keyType], '-out', file('k3.pem')]);
    await openssl(['req', '-new', '-key', file('k3.pem'), '-config', file('leaf.cnf'), '-out', file('r3.pem')]);
    await openssl(['x509', '-req', '-in', file('r3.pem'), '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'), '-extfile', file('leaf.cnf'), '-extensions', 'leaf', '-days', '365', ...DIGEST[keyType], '-out', file('c3.pem')]);
  }, opts);
  const [type, keyOpts] = NODE_KEYGEN[keyType];
  const keygen = await measure(() => genKey(type, keyOpts), { min: MIN_FOR[keyType] ?? MIN_SAMPLES });
  // openssl's own cost without the process: never below a tenth of a millisecond
  const inProcess = Math.max(req.mean - spawnFloor.mean, 0.1);
  const row = { keyType, ours: perSec(ours), req: perSec(req), reqMinusSpawn: 1000 / inProcess, three: perSec(three), keygen: perSec(keygen), samples: [ours.n, req.n, three.n, keygen.n] };
  certRows.push(row);
  const d = row.ours < 10 ? 1 : 0;
  console.log(
    `| ${keyType} | ${fmt(row.ours, d)} | ${fmt(row.req, d)} | ${fmt(row.reqMinusSpawn, d)} | ${fmt(row.three, d)} | ${fmt(row.keygen, d)} | ${(row.ours / row.req).toFixed(2)}x | ${(row.ours / row.reqMinusSpawn).toFixed(2)}x |`,
  );
}
console.log(`\nsamples per cell (ours, req, genpkey+req+x509, keygen): ${certRows.map((r) => `${r.keyType} ${r.samples.join('/')}`).join('; ')}`);

// Both sides can use the second core: ours by keeping several issuances in flight (WebCrypto
// runs on the libuv thread pool), openssl by running two processes at once.
console.log('\n## Throughput with both cores busy (certs/s)\n');
console.log('| key type | ours, 4 in flight | openssl req -x509 -CA, 2 processes | ratio |');
console.log('|---|---:|---:|---:|');
for (const keyType of keyTypes.filter((k) => !k.startsWith('rsa-3') && !k.startsWith('rsa-4'))) {
  const ca = await createCA({ commonName: `Bench CA ${keyType}`, keyType });
  writeFileSync(file('ca.pem'), ca.certificatePem);
  writeFileSync(file('ca-key.pem'), ca.privateKeyPem, { mode: 0o600 });
  const budget = keyType.startsWith('rsa') ? Math.max(BUDGET_MS, 3000) : BUDGET_MS;
  const ours = await throughput(() => issueCertificate({ ca, kind: 'server', keyType, commonName: 'example.com', sans: SANS }), 4, budget);
  let slot = 0;
  const theirs = await throughput(() => {
    const k = `p${slot++ % 2}`;
    return openssl(['req', '-x509', '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'), ...NEWKEY[keyType], '-noenc', '-keyout', file(`${k}.key`), '-out', file(`${k}.pem`), '-config', file('leaf.cnf'), '-extensions', 'leaf', '-days', '365', ...DIGEST[keyType]]);
  }, 2, budget);
  console.log(`| ${keyType} | ${fmt(ours)} | ${fmt(theirs)} | ${(ours / theirs).toFixed(2)}x |`);
}

// ---- 2. CRL signing -------------------------------------------------------------------------

const ca = await createCA({ commonName: 'Bench CRL CA', keyType: 'ec-p256' });
writeFileSync(file('crl-ca.pem'), ca.certificatePem);
writeFileSync(file('crl-ca-key.pem'), ca.privateKeyPem, { mode: 0o600 });
writeFileSync(
  file('ca.cnf'),
  `[ca]
default_ca = bench
[bench]
database = ${file('index.txt')}
crlnumber = ${file('crlnumber')}
certificate = ${file('crl-ca.pem')}
private_key = ${file('crl-ca-key.pem')}
default_md = sha256
default_crl_days = 1
crl_extensions = crlext
unique_subject = no
[crlext]
authorityKeyIdentifier = keyid:always
`,
);

/** openssl index.txt time: YYMMDDHHMMSSZ */
const indexTime = (ms) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';

function synthesize(n) {
  const base = Date.parse('2026-01-01T00:00:00Z');
  const expiry = indexTime(base + 400 * 86_400_000);
  const bytes = randomBytes(16 * n);
  const entries = new Array(n);
  const lines = new Array(n);
  for (let i = 0; i < n; i++) {
    bytes[i * 16] = (bytes[i * 16] & 0x7f) | 0x40; // as randomSerialHex: 127 bits, no leading zero
    const serialHex = bytes.toString('hex', i * 16, i * 16 + 16);
    const ms = base + i * 1000;
    entries[i] = { serialHex, revokedAt: new Date(ms), reason: 'keyCompromise' };
    lines[i] = `R\t${expiry}\t${indexTime(ms)},keyCompromise\t${serialHex.toUpperCase()}\tunknown\t/CN=x`;
  }
  writeFileSync(file('index.txt'), lines.join('\n') + '\n');
  return entries;
}

async function gencrl() {
  writeFileSync(file('crlnumber'), '01\n');
  await openssl(['ca', '-config', file('ca.cnf'), '-gencrl', '-out', file('openssl-crl.pem')]);
}

writeFileSync(file('index.txt'), '');
const gencrlFloor = await measure(gencrl, { budget: 500 });
console.log(`\n## CRL signing time (ECDSA P-256, reason + CRL number + AKI)\n`);
console.log(`openssl ca -gencrl with an empty index (spawn, config, key, sign): ${fmt(gencrlFloor.mean, 1)} ms\n`);
console.log('| entries | ours createCrl (ms) | openssl ca -gencrl (ms) | ours faster by | DER size ours / openssl | runs (ours/openssl) |');
console.log('|---:|---:|---:|---:|---|---|');
const crlRows = [];
for (const n of CRL_SIZES) {
  const entries = synthesize(n);
  const big = n >= 1_000_000;
  let der;
  const ours = await measure(
    async () => {
      der = await createCrl({ ca, revoked: entries, crlNumber: 1, nextUpdate: new Date(Date.now() + 86_400_000) });
    },
    { budget: big ? 0 : BUDGET_MS, min: big ? 3 : 5 },
  );
  const theirs = await measure(gencrl, { budget: big ? 0 : BUDGET_MS, min: big ? 1 : 3 });
  // Same work check: both CRLs hold n entries of the same size, and openssl verifies ours.
  writeFileSync(file('ours.der'), der);
  await openssl(['crl', '-in', file('openssl-crl.pem'), '-outform', 'DER', '-out', file('openssl-crl.der')]);
  const theirSize = statSync(file('openssl-crl.der')).size;
  if (n <= 100_000) {
    const { stderr } = await openssl(['crl', '-inform', 'DER', '-in', file('ours.der'), '-CAfile', file('crl-ca.pem'), '-noout']);
    if (!/verify OK/.test(stderr)) throw new Error(`openssl did not verify our ${n}-entry CRL: ${stderr}`);
  }
  const row = { n, ours: ours.median, openssl: theirs.median, oursSize: der.byteLength, theirSize, runs: `${ours.n}/${theirs.n}` };
  crlRows.push(row);
  console.log(`| ${fmt(n)} | ${fmt(row.ours, n < 100_000 ? 2 : 0)} | ${fmt(row.openssl, n < 100_000 ? 1 : 0)} | ${(row.openssl / row.ours).toFixed(1)}x | ${fmt(row.oursSize)} / ${fmt(row.theirSize)} | ${row.runs} |`);
}

console.log(`\nCRL times are medians. Our CRLs up to 100k entries were verified with openssl crl -CAfile in this run.`);
console.log(`machine at the end: ${machine()}`);
console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
rmSync(dir, { recursive: true, force: true });
