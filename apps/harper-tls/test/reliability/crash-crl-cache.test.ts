import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as lmdb from 'lmdb';
import { OpensslPki } from './openssl-pki.js';
import { parseCrl, storedDer } from '@harper-tls/revocation';
import { freePort } from '../helpers/run.js';
import { freePorts, kill9, portArgs, randomDelay, runs, sleep, spawnCli, type Child, type Ports } from './harness.js';

/**
 * kill -9 while the server downloads, parses and stores a large CRL in its lmdb revocation cache.
 * Each run uses a client certificate with its own CRL URL, so every run is a cold download and a
 * fresh cache write. After each kill the store (opened read-only here) must hold, for every URL,
 * either nothing or the complete CRL. At the end a restarted server must give the right answers for
 * every URL (cached ones without a new download) and a revoked certificate must still be refused.
 */
// Each run restarts a child server; RELIABILITY_RUNS=N gives N/2 runs (default 6).
const RUNS = Math.max(2, Math.ceil(runs(12) / 2));
const ENTRIES = 40_000;
const ADMIN = { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' };

describe(`kill -9 during a CRL cache write (${RUNS} runs, ${ENTRIES}-entry CRL)`, () => {
  const pki = new OpensslPki();
  const root = join(pki.dir, 'root');
  let crl: Buffer;
  let crlServer: Server;
  let base: string;
  const downloads = new Map<string, number>();
  let ports: Ports;
  let server: Child | undefined;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    pki.ca('root');
    pki.run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
    pki.write('server.ext', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
    pki.run('x509', '-req', '-in', 'server.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-set_serial', '0x9000', '-days', '20', '-extfile', 'server.ext', '-out', 'server.crt');
    for (let i = 0; i < RUNS; i++) pki.issue(`run${i}`, 'root', (0x3000 + i).toString(16), { cn: 'alice', cdp: `${base}/crl/run${i}` });
    pki.issue('revoked', 'root', 'ffff01', { cn: 'alice', cdp: `${base}/crl/final` });
    // A large CRL: ENTRIES revoked serials written straight into the openssl index, plus the real one.
    const lines: string[] = [];
    for (let i = 0; i < ENTRIES; i++) lines.push(`R\t300101000000Z\t260101000000Z,keyCompromise\t${(0x100000 + i).toString(16).toUpperCase()}\tunknown\t/CN=r${i}`);
    writeFileSync(pki.path('root.idx'), lines.join('\n') + '\n');
    pki.revoke('revoked', 'root');
    crl = Buffer.from(pki.crl('root'));
    crlServer = createServer((req, res) => {
      req.resume();
      downloads.set(req.url!, (downloads.get(req.url!) ?? 0) + 1);
      // Streamed in 64 KiB pieces so the download itself takes a little while.
      res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': crl.length });
      let o = 0;
      const next = (): void => {
        if (o >= crl.length) return void res.end();
        res.write(crl.subarray(o, (o += 64 * 1024)));
        setTimeout(next, 2);
      };
      res.on('error', () => {});
      next();
    });
    await new Promise<void>((r) => crlServer.listen(port, '127.0.0.1', r));
    ports = await freePorts();
    mkdirSync(root);
    writeFileSync(
      join(root, 'harperdb-config.yaml'),
      ['http:', `  port: ${ports.http}`, `  securePort: ${ports.https}`, '  mtls:', '    required: false', `    certificateVerification: ${JSON.stringify({ failureMode: 'fail-closed', crl: { timeout: 10_000, cacheTtl: 3_600_000 }, ocsp: false })}`, 'tls:', `  certificate: ${pki.path('server.crt')}`, `  privateKey: ${pki.path('server.key')}`, `  certificateAuthority: ${pki.path('root.crt')}`, 'operationsApi:', '  network:', `    port: ${ports.ops}`, 'logging:', '  level: warn', ''].join('\n'),
    );
  }, 120_000);
  afterAll(async () => {
    if (server) await kill9(server);
    crlServer?.closeAllConnections();
    crlServer?.close();
    pki.cleanup();
  });

  const start = async (): Promise<Child> => {
    const c = spawnCli(['start', '--root', root, ...portArgs(ports)], ADMIN);
    await c.waitFor('operations ', 20_000);
    return c;
  };
  const whoami = (name: string): Promise<{ status: number; body: string } | undefined> =>
    new Promise((res) => {
      const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port: ports.https, path: '/whoami', ca: readFileSync(pki.path('root.crt')), cert: readFileSync(pki.path(`${name}.crt`)), key: readFileSync(pki.path(`${name}.key`)), agent: false, timeout: 20_000 }, (r) => {
        let t = '';
        r.on('data', (d: Buffer) => (t += d.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: t }));
        r.on('error', () => res(undefined));
      });
      req.on('error', () => res(undefined));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  const addUser = (): Promise<number> =>
    new Promise((res) => {
      const data = JSON.stringify({ operation: 'add_user', username: 'alice', password: 'alice-pw-1', role: 'reader', active: true });
      const req = httpRequest({ host: '127.0.0.1', port: ports.ops, method: 'POST', path: '/', auth: 'admin:admin-pw', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      });
      req.on('error', () => res(-1));
      req.end(data);
    });

  /** Every revocation-cache value in the store: its URL key and whether it is the complete CRL. */
  function storeProblems(): { cached: string[]; problems: string[] } {
    const db = lmdb.open({ path: join(root, 'database', 'server.mdb'), maxDbs: 8, readOnly: true });
    const cached: string[] = [];
    const problems: string[] = [];
    try {
      const rev = db.openDB<Buffer, string>({ name: 'revocation', encoding: 'binary' });
      for (const { key, value } of rev.getRange({})) {
        const v = Buffer.from(value);
        // The stored layout (@harper-tls/revocation crl/stored.ts): header, DER, serial index.
        const { der: derView, fetchedAt } = storedDer(v);
        const der = Buffer.from(derView);
        if (!der.equals(crl)) problems.push(`${key}: ${der.length} bytes stored, ${crl.length} served`);
        else if (!(fetchedAt > 1.6e12 && fetchedAt < Date.now() + 1000)) problems.push(`${key}: fetchedAt ${fetchedAt}`);
        else {
          parseCrl(der);
          cached.push(String(key));
        }
      }
    } finally {
      void db.close();
    }
    return { cached, problems };
  }

  it('leaves the store with complete CRLs or none; the restarted server answers right, from the cache where it can', async () => {
    server = await start();
    expect(await addUser()).toBe(200);
    // Calibration on run 0 (uninterrupted): a cold request = download + parse + store.
    const t0 = Date.now();
    expect((await whoami('run0'))?.status).toBe(200);
    const window = Math.max(50, Math.round(1.6 * (Date.now() - t0)));
    await kill9(server);
    const failures: string[] = [];
    let answered = 0;
    for (let i = 1; i < RUNS; i++) {
      server = await start();
      const delay = randomDelay(window);
      const pending = whoami(`run${i}`);
      await sleep(delay);
      await kill9(server);
      server = undefined;
      const r = await pending;
      if (r?.status === 200) answered++;
      else if (r !== undefined) failures.push(`run ${i}: answered ${r.status} ${r.body}`);
      const { problems } = storeProblems();
      if (problems.length) failures.push(`run ${i} (kill at ${delay} ms): ${problems.join('; ')}`);
    }
    const { cached } = storeProblems();
    // Restart: every URL answers right; cached ones are not downloaded again.
    const before = new Map(downloads);
    server = await start();
    for (let i = 0; i < RUNS; i++) {
      const r = await whoami(`run${i}`);
      if (r?.status !== 200) failures.push(`after restart run${i}: ${r?.status} ${r?.body}`);
    }
    const revoked = await whoami('revoked');
    expect(revoked).toEqual({ status: 401, body: JSON.stringify({ error: 'Certificate revoked or verification failed' }) });
    const redownloaded = [...downloads].filter(([u, n]) => n > (before.get(u) ?? 0)).map(([u]) => u);
    for (const key of cached) {
      const path = new URL(key.slice(key.indexOf('http'))).pathname;
      if (redownloaded.includes(path)) failures.push(`${path} was in the store but downloaded again`);
    }
    expect(server.proc.exitCode).toBe(null);
    await kill9(server);
    server = undefined;
    console.log(`crl cache: ${RUNS - 1} kills (window 0-${window} ms, CRL ${(crl.length / 2 ** 20).toFixed(1)} MiB), ${answered} answered before the kill, ${cached.length}/${RUNS} URLs complete in the store, ${redownloaded.length - 1} re-downloaded after restart, ${failures.length} failures`);
    expect(failures).toEqual([]);
  }, 180_000);
});
