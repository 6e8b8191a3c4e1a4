// Issue: "a large CRL or CA bundle is not copied per SNI context". Time and RSS to build N SNI
// contexts (tls = N entries, each its own certificate and key, all trusting the same CA file of
// CA_CERTS certificates; operationsApi.tls inherits the same N entries, as by default), through
// CertificateRegistry.init(), in a fresh process per measurement, for the current build and
// optionally a snapshot (bench/snapshot.mjs) side by side, interleaved.
// Usage: node bench/sni-contexts.mjs   (BASELINE=<snapshot name> COUNTS=10,100 CA_CERTS=100 RUNS=3)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, issueCertificate } from '@harper-tls/cert-gen';
import { here, out, load, machine } from './lib.mjs';

const COUNTS = (process.env.COUNTS ?? '10,100').split(',').map(Number);
const CA_CERTS = Number(process.env.CA_CERTS ?? 100);
const RUNS = Number(process.env.RUNS ?? 3);
const BASELINE = process.env.BASELINE;
const started = new Date();
const loadBefore = load();
const dir = join(out, `sni-${CA_CERTS}`);
const max = Math.max(...COUNTS);
if (!existsSync(join(dir, `leaf${max - 1}.key`))) {
  mkdirSync(dir, { recursive: true });
  const cas = [];
  for (let i = 0; i < CA_CERTS; i++) cas.push(await createCA({ commonName: `Bundle CA ${i}`, days: 30 }));
  writeFileSync(join(dir, 'ca-bundle.pem'), cas.map((c) => c.certificatePem).join(''));
  for (let i = 0; i < max; i++) {
    const leaf = await issueCertificate({ ca: cas[0], kind: 'server', commonName: `h${i}.test`, sans: [`DNS:h${i}.test`], days: 30 });
    writeFileSync(join(dir, `leaf${i}.pem`), leaf.certificatePem);
    writeFileSync(join(dir, `leaf${i}.key`), leaf.privateKeyPem, { mode: 0o600 });
  }
}

const variants = { current: '@harper-tls/server' };
if (BASELINE) variants[BASELINE] = join(out, 'snapshots', BASELINE, 'node_modules', '@harper-tls', 'server', 'dist', 'index.js');
const child = (module, n) => JSON.parse(execFileSync(process.execPath, ['--expose-gc', join(here, 'sni-child.mjs'), JSON.stringify({ module, n, dir })], { encoding: 'utf8' }));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const res = {};
for (const n of COUNTS) {
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 ? Object.keys(variants).reverse() : Object.keys(variants);
    for (const v of order) ((res[n] ??= {})[v] ??= []).push(child(variants[v], n));
  }
}
const lines = [
  '| SNI entries (× 2 APIs) | build | init ms | reload ms (same files) | RSS after init − before, MiB | V8 heap + external after, MiB | distinct CA `X509Certificate` objects held (= parsed) |',
  '|---|---|---|---|---|---|---|',
];
for (const n of COUNTS) {
  for (const v of Object.keys(variants)) {
    const runs = res[n][v];
    const m = (k) => median(runs.map((x) => x[k]));
    lines.push(`| ${n} | ${v} | ${m('initMs').toFixed(0)} [${runs.map((x) => x.initMs.toFixed(0)).join(', ')}] | ${m('reloadMs').toFixed(0)} | ${(m('rssDelta') / 2 ** 20).toFixed(1)} [${runs.map((x) => (x.rssDelta / 2 ** 20).toFixed(1)).join(', ')}] | ${((m('heap') + m('external')) / 2 ** 20).toFixed(1)} | ${m('caParsed')} |`);
  }
}
const md = [
  `Command: \`${BASELINE ? `BASELINE=${BASELINE} ` : ''}COUNTS=${COUNTS.join(',')} CA_CERTS=${CA_CERTS} RUNS=${RUNS} node packages/server/bench/sni-contexts.mjs\``,
  `Started ${started.toISOString()}; ${machine()}; load average before ${loadBefore}, after ${load()}. Median of ${RUNS} fresh processes per cell [each run]; CA bundle: ${CA_CERTS} CA certificates in one file, one leaf + key per entry.`,
  '',
  ...lines,
  '',
];
writeFileSync(join(out, `sni-contexts.md`), md.join('\n'));
process.stdout.write(md.join('\n'));
