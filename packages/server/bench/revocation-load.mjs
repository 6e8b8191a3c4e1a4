// Revocation under load: 1,000 concurrent full mTLS handshakes whose certificates need the same
// COLD CRL (10 client certificates of one CA, one distribution point), and separately the same
// cold OCSP answer (one certificate, OCSP only), against a freshly started harper-tls (empty
// cache and store). Counts the requests reaching the local CRL / OCSP server (goal: exactly 1)
// and reports p50/p99/max latency (connect -> HTTP response) with the cold cache, then with the
// warm cache, and for a bare Node https server (no revocation) as the floor of what 1,000
// simultaneous handshakes cost on this machine. Order: bare, harper cold, harper warm, bare.
// The CRL / OCSP server answers after DELAY_MS (default 200) to stand in for a real network.
// Usage: node bench/revocation-load.mjs   (COUNT=1000 DELAY_MS=200 KEY_TYPE=ec)
import http from 'node:http';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createOcspResponder, createOcspHttpHandler } from '@harper-tls/cert-gen';
import { out, makePki, makeHarperRoot, startChild, stopChild, runLoad, load, machine, busyProcesses } from './lib.mjs';

const COUNT = Number(process.env.COUNT ?? 1000);
const DELAY_MS = Number(process.env.DELAY_MS ?? 200);
const KEY_TYPE = process.env.KEY_TYPE ?? 'ec';
mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
const busyBefore = busyProcesses();

let counts = { crl: 0, ocsp: 0 };
let ocspHandler;
let crlFile;
const server = http.createServer((req, res) => {
  const kind = req.url.startsWith('/ocsp') ? 'ocsp' : 'crl';
  counts[kind]++;
  setTimeout(() => {
    if (kind === 'crl') {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' });
      res.end(readFileSync(crlFile));
    } else {
      req.url = req.url.slice('/ocsp'.length) || '/';
      ocspHandler(req, res).catch(() => res.destroy());
    }
  }, DELAY_MS);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

async function scenario(kind) {
  const dir = join(out, `pki-revload-${kind}`);
  makePki(dir, { keyType: KEY_TYPE, crlUrl: kind === 'crl' ? `${base}/crl` : undefined, ocspUrl: kind === 'ocsp' ? `${base}/ocsp` : undefined, clients: kind === 'crl' ? 10 : 1 });
  crlFile = join(dir, 'crl.der');
  ocspHandler = createOcspHttpHandler(createOcspResponder({ issuer: { certificatePem: readFileSync(join(dir, 'ca.pem'), 'utf8'), privateKeyPem: readFileSync(join(dir, 'ca.key'), 'utf8') }, lookup: () => ({ status: 'good' }) }));
  const verification = kind === 'crl' ? '      crl: true\n      ocsp: false\n' : '      crl: false\n      ocsp: true\n';
  const root = makeHarperRoot(join(dir, 'root'), { dir, verification });
  const certs = Array.from({ length: kind === 'crl' ? 10 : 1 }, (_, i) => ({ cert: join(dir, i ? `client${i}.pem` : 'client.pem'), key: join(dir, i ? `client${i}.key` : 'client.key') }));
  const client = { ca: join(dir, 'ca.pem'), certs, path: '/whoami', expectStatus: 200, mode: 'burst', count: COUNT };
  const bare = await startChild('bare-server.mjs', { key: join(dir, 'server.key'), cert: join(dir, 'server.pem'), ca: join(dir, 'ca.pem') });
  const harper = await startChild('harper-server.mjs', { root });
  const rows = [];
  try {
    rows.push({ what: 'bare Node https (no revocation)', ...(await runLoad({ ...client, port: bare.info.port })) });
    counts = { crl: 0, ocsp: 0 };
    const cold = await runLoad({ ...client, port: harper.info.port });
    rows.push({ what: `harper-tls, cold ${kind.toUpperCase()} cache`, ...cold, downloads: counts[kind] });
    counts = { crl: 0, ocsp: 0 };
    const warm = await runLoad({ ...client, port: harper.info.port });
    rows.push({ what: `harper-tls, warm ${kind.toUpperCase()} cache`, ...warm, downloads: counts[kind] });
    rows.push({ what: 'bare Node https (no revocation)', ...(await runLoad({ ...client, port: bare.info.port })) });
  } finally {
    await stopChild(bare.child);
    await stopChild(harper.child);
  }
  return rows;
}

const results = {};
try {
  results.crl = await scenario('crl');
  results.ocsp = await scenario('ocsp');
} finally {
  server.close();
}
const lines = ['| revocation source | server | completed / failed | requests to the CRL/OCSP server | p50 ms | p99 ms | max ms | wall s |', '|---|---|---|---|---|---|---|---|'];
for (const [kind, rows] of Object.entries(results)) {
  for (const r of rows) lines.push(`| ${kind === 'crl' ? 'CRL (10 certificates, 1 CDP)' : 'OCSP (1 certificate)'} | ${r.what} | ${r.completed} / ${r.failed} | ${r.downloads ?? '—'} | ${r.p50} | ${r.p99} | ${r.max} | ${r.seconds} |`);
}
const errors = Object.values(results).flat().filter((r) => r.firstError).map((r) => `${r.what}: ${r.firstError}`);
const md = [
  `Command: \`COUNT=${COUNT} DELAY_MS=${DELAY_MS} KEY_TYPE=${KEY_TYPE} node packages/server/bench/revocation-load.mjs\``,
  `Started ${started.toISOString()}, ${Math.round((Date.now() - started) / 1000)} s; ${machine()}; load average before ${loadBefore}, after ${load()}; busiest at start: ${busyBefore.map((b) => '`' + b + '`').join(', ') || 'none'}.`,
  `${COUNT} connections opened at once by one Node process (${KEY_TYPE === 'ec' ? 'ECDSA P-256' : 'RSA 2048'}), one GET /whoami each; latency = TCP connect to HTTP response. The CRL/OCSP server answers after ${DELAY_MS} ms.`,
  '',
  ...lines,
  '',
  ...(errors.length ? ['First errors: ' + errors.join('; '), ''] : []),
];
writeFileSync(join(out, 'revocation-load.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
const ok = results.crl[1].downloads === 1 && results.ocsp[1].downloads === 1;
process.exit(ok ? 0 : 1);
