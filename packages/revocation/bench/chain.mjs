#!/usr/bin/env node
// Per-handshake cost of the chain handling in check(): normalizeChain (parse the DER of
// leaf + intermediate + root, as getPeerCertificate(true) gives fresh Buffers each time) and a
// whole check() answered from a local CRL (no network). RSA-2048 or EC P-256 chains.
//
//   pnpm --filter @harper-tls/revocation build && node bench/chain.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { createRevocationChecker, normalizeChain } = await import(process.env.BENCH_DIST ?? join(HERE, '..', 'dist', 'index.js'));
const { defaultCertificateVerification } = await import('@harper-tls/config');
const N = Number(process.env.BENCH_N ?? 5000);
const LEAVES = 300; // more than the checker's 256-entry cache: every leaf is parsed again

function pki(keyType) {
  const dir = mkdtempSync(join(tmpdir(), 'chain-bench-'));
  const sh = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const key = keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const ext = (name, lines) => writeFileSync(join(dir, `${name}.ext`), lines.join('\n') + '\n');
  sh('req', '-x509', ...key, '-nodes', '-subj', '/CN=Root', '-keyout', 'root.key', '-out', 'root.crt', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const issue = (name, issuer, serial, lines) => {
    ext(name, lines);
    sh('req', ...key, '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    sh('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', serial, '-days', '20', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  issue('inter', 'root', '0x20', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
  issue('leaf', 'inter', '0x30', ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature']);
  const leaves = [];
  // Other leaves under the same intermediate, re-signed with the one key (a new certificate each).
  for (let i = 0; i < LEAVES; i++) {
    sh('x509', '-req', '-in', 'leaf.csr', '-CA', 'inter.crt', '-CAkey', 'inter.key', '-set_serial', String(1000 + i), '-days', '20', '-extfile', 'leaf.ext', '-out', `leaf${i}.crt`);
    leaves.push(`leaf${i}`);
  }
  const cnf = (ca) => {
    writeFileSync(join(dir, `${ca}.idx`), '');
    writeFileSync(join(dir, `${ca}.cnf`), `[ca]\ndefault_ca=c\n[c]\ndatabase=${ca}.idx\ndefault_md=sha256\ndefault_crl_days=7\ncertificate=${ca}.crt\nprivate_key=${ca}.key\n`);
    sh('ca', '-config', `${ca}.cnf`, '-gencrl', '-out', `${ca}.crl.pem`);
    sh('crl', '-in', `${ca}.crl.pem`, '-outform', 'DER', '-out', `${ca}.crl`);
  };
  cnf('root');
  cnf('inter');
  const der = (n) => {
    const pem = readFileSync(join(dir, `${n}.crt`), 'utf8');
    return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  };
  const out = { chain: ['leaf', 'inter', 'root'].map(der), leaves: leaves.map(der), crls: ['root', 'inter'].map((c) => new Uint8Array(readFileSync(join(dir, `${c}.crl`)))) };
  rmSync(dir, { recursive: true, force: true });
  return out;
}

async function time(label, n, fn) {
  for (let i = 0; i < Math.min(500, n); i++) await fn(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  console.log(`${label.padEnd(52)} ${us.toFixed(1).padStart(8)} µs`);
}

for (const keyType of ['ec', 'rsa']) {
  const { chain, crls, leaves } = pki(keyType);
  const fresh = () => chain.map((d) => Buffer.from(d)); // a new Buffer per handshake, same bytes
  const config = defaultCertificateVerification();
  config.ocsp.enabled = false;
  const checker = createRevocationChecker({ config, crls });
  const v = await checker.check(fresh());
  if (v.status !== 'good') throw new Error(`unexpected verdict ${JSON.stringify(v)}`);
  console.log(`# ${keyType === 'ec' ? 'EC P-256' : 'RSA-2048'} chain (leaf, intermediate, root), ${N} iterations, node ${process.version}`);
  await time('normalizeChain([leaf, inter, root]), no cache', N, () => normalizeChain(fresh()));
  await time('check() from local CRLs (2 certificates checked)', N, () => checker.check(fresh()));
  let i = 0;
  await time(`check(), a leaf not seen in the last ${LEAVES} checks`, N, () => checker.check([Buffer.from(leaves[i++ % LEAVES]), ...fresh().slice(1)]));
}
