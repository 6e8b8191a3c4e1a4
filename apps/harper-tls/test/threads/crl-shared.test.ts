import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OpensslPki } from '../reliability/openssl-pki.js';
import { fresh, op, spread, startCluster, type Cluster } from './cluster.js';

/**
 * SPEC.md section 8, memory: with threads.count 2, a big CRL (over lmdb's 16 MiB threshold for
 * mapped reads) is downloaded once for the node, and both workers answer from the one copy in
 * the store's memory map: in each worker the CRL is resident in its mapping of server.mdb and
 * those pages are shared with the other worker (not a private heap copy per worker).
 */
const N = 16;
/** Revoked entries besides dave's: enough for a CRL over 16 MiB (about 38 bytes each). */
const FILLER = 480_000;
let c: Cluster;
let pki: OpensslPki;
let crlServer: http.Server;
let crlDownloads = 0;
let crl: Buffer;

beforeAll(async () => {
  pki = new OpensslPki();
  crlServer = http.createServer((req, res) => {
    crlDownloads++;
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': crl.length });
    res.end(crl);
  });
  await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
  const crlUrl = `http://127.0.0.1:${(crlServer.address() as { port: number }).port}/big.crl`;
  pki.ca('big');
  pki.issue('dave', 'big', '0a01', { cdp: crlUrl });
  pki.issue('erin', 'big', '0a02', { cdp: crlUrl });
  pki.revoke('dave', 'big');
  const lines: string[] = [];
  for (let i = 0; i < FILLER; i++) lines.push(`R\t301231235959Z\t261101000000Z,keyCompromise\t${(0x10000000 + i).toString(16).toUpperCase()}\tunknown\t/CN=x${i}`);
  appendFileSync(pki.path('big.idx'), lines.join('\n') + '\n');
  crl = Buffer.from(pki.crl('big', 'big.crl'));
  expect(crl.length).toBeGreaterThan(16 * 1024 * 1024);
  c = await startCluster();
  for (const u of ['dave', 'erin']) expect((await op(c, { operation: 'add_user', username: u, password: `${u}-pw`, role: 'reader' })).status).toBe(200);
  expect((await op(c, { operation: 'add_certificate', name: 'big-ca', certificate: pki.pem('big'), is_authority: true })).status).toBe(200);
}, 240_000);

afterAll(async () => {
  await c?.cleanup();
  pki?.cleanup();
  await new Promise((r) => crlServer?.close(r));
});

const client = (name: string) => ({ cert: readFileSync(pki.path(`${name}.crt`)), key: readFileSync(pki.path(`${name}.key`)) });
const whoami = (name: string) => fresh({ port: c.ports.https, path: '/whoami', tls: client(name) });

/** The server's worker processes (children of the primary). */
function workers(): number[] {
  const pid = c.child.proc.pid!;
  const kids: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (list) kids.push(...list.split(/\s+/).map(Number));
  }
  return kids;
}

/** Rss and shared bytes of a process's mappings of `file`. */
function mapping(pid: number, file: string): { rss: number; shared: number } {
  const out = { rss: 0, shared: 0 };
  let inFile = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.endsWith(file);
    else if (inFile) {
      const m = /^(Rss|Shared_Clean|Shared_Dirty):\s+(\d+) kB/.exec(line);
      if (m) out[m[1] === 'Rss' ? 'rss' : 'shared'] += Number(m[2]) * 1024;
    }
  }
  return out;
}

describe('threads.count 2: a big CRL downloaded once, both workers answering from the one mapped copy', { timeout: 240_000 }, () => {
  it('revoked and good certificates answered right on both workers; one download; the CRL shared through the map', async () => {
    const revoked = await spread(c, 'https', N, () => whoami('dave'));
    expect(revoked.map((r) => [r.status, r.body.error])).toEqual(Array(N).fill([401, 'Certificate revoked or verification failed']));
    const good = await spread(c, 'https', N, () => whoami('erin'));
    expect(good.map((r) => [r.status, r.body.username])).toEqual(Array(N).fill([200, 'erin']));
    expect(crlDownloads).toBe(1);

    const pids = workers();
    expect(pids).toHaveLength(2);
    const db = join(c.root, 'database', 'server.mdb');
    for (const pid of pids) {
      const m = mapping(pid, db);
      // The CRL (its DER, read by the signature check, and its index, read by the adoption) is resident in the map...
      expect(m.rss, `worker ${pid}: ${JSON.stringify(m)}`).toBeGreaterThan(crl.length);
      // ...and those pages are shared with the other worker.
      expect(m.shared, `worker ${pid}: ${JSON.stringify(m)}`).toBeGreaterThan(crl.length);
    }
  });
});
