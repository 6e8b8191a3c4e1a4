import { expect } from 'vitest';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpensslPki } from './openssl-pki.js';
import { freePort } from '../helpers/run.js';
import { freePorts, kill9, sleep, spawnCli, type Child, type Ports } from './harness.js';

/**
 * Shared by faults-crl.test.ts and faults-ocsp.test.ts. Faults of the revocation sources against a running `harper-tls start` child (fault servers in this
 * process on 127.0.0.1): CRL 500 / truncated / 200 MB body / no answer; OCSP slow / down / garbage /
 * response for another serial. Each server is checked for: /health still 200, a good certificate
 * (CRL that works) still authenticates, the fault's failure mode applied to every request, server
 * RSS bounded (the 200 MB body), and how many log lines the fault produced over N requests.
 */
export const N = 12;
const ADMIN = { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' };
export const REVOKED_BODY = { error: 'Certificate revoked or verification failed' };
export const ALICE_BODY = { username: 'alice', role: 'reader', authenticatedBy: 'mtls' };

export interface Reply {
  status: number;
  body: unknown;
}

export const pki = new OpensslPki();
let faultPort: number;
let downPort: number;
let fault: Server;
let crl: Buffer;
let otherOcsp: Buffer;
const hung = new Set<import('node:http').ServerResponse>();
let hugeBytesSent = 0;

function faultHandler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
  const path = req.url ?? '';
  req.resume();
  if (path === '/crl/good') return void res.end(crl);
  if (path === '/crl/500') return void res.writeHead(500).end('internal error');
  if (path === '/crl/truncated') return void res.end(crl.subarray(0, Math.floor(crl.length / 2)));
  if (path === '/crl/huge') {
    // 200 MB, chunked (no content-length), streamed until the client hangs up.
    res.writeHead(200, { 'content-type': 'application/pkix-crl' });
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let left = 200 * 2 ** 20;
    const pump = (): void => {
      while (left > 0) {
        left -= chunk.length;
        hugeBytesSent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => {});
    return pump();
  }
  if (path === '/crl/hang' || path.startsWith('/ocsp/hang')) return void hung.add(res);
  if (path.startsWith('/ocsp/slow')) return void setTimeout(() => res.writeHead(500).end(), 3000);
  if (path.startsWith('/ocsp/garbage')) return void res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(Buffer.from('0\x82\x01\x00garbage garbage garbage'));
  if (path.startsWith('/ocsp/other')) return void res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(otherOcsp);
  res.writeHead(404).end();
}

/** mTLS GET /whoami with `name`'s certificate (a new connection each time). */
export function whoami(port: number, name: string): Promise<Reply> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port, path: '/whoami', ca: readFileSync(pki.path('root.crt')), cert: readFileSync(pki.path(`${name}.crt`)), key: readFileSync(pki.path(`${name}.key`)), agent: false, timeout: 15_000 }, (res) => {
      let t = '';
      res.on('data', (d: Buffer) => (t += d.toString()));
      res.on('end', () => {
        let body: unknown = t;
        try {
          body = JSON.parse(t);
        } catch {}
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', (e) => resolve({ status: -1, body: e.message }));
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.end();
  });
}

export function health(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/health', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function op(port: number, body: object): Promise<number> {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', auth: 'admin:admin-pw', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
    req.end(data);
  });
}

export const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

export async function startServer(name: string, verification: object): Promise<{ child: Child; ports: Ports }> {
  const root = join(pki.dir, `root-${name}`);
  const ports = await freePorts();
  const { mkdirSync } = await import('node:fs');
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'harperdb-config.yaml'),
    [
      'http:',
      `  port: ${ports.http}`,
      `  securePort: ${ports.https}`,
      '  mtls:',
      '    required: false',
      `    certificateVerification: ${JSON.stringify(verification)}`,
      'tls:',
      `  certificate: ${pki.path('server.crt')}`,
      `  privateKey: ${pki.path('server.key')}`,
      `  certificateAuthority: ${pki.path('root.crt')}`,
      'operationsApi:',
      '  network:',
      `    port: ${ports.ops}`,
      'logging:',
      '  level: info',
      '  file: false', // the lines are read from stdout (logging.stdStreams)
      '  stdStreams: true',
      '',
    ].join('\n'),
  );
  const child = spawnCli(['start', '--root', root], ADMIN);
  await child.waitFor('operations ', 20_000);
  expect(await op(ports.ops, { operation: 'add_user', username: 'alice', password: 'alice-pw-1', role: 'reader', active: true })).toBe(200);
  return { child, ports };
}

/** Log lines (stdout with logging.stdStreams, pino JSON) written after `from` that mention `needle`. */
export const linesAfter = (child: Child, from: number, needle: string): string[] =>
  child
    .stdout()
    .slice(from)
    .split('\n')
    .filter((l) => l.includes(needle));


export let downPortNumber = 0;
/** The PKI (server, control and fault certificates) and the fault server. */
export async function setUp(): Promise<void> {
    faultPort = await freePort();
    downPort = await freePort(); // bound and released: connection refused
    downPortNumber = downPort;
    const base = `http://127.0.0.1:${faultPort}`;
    pki.ca('root');
    pki.run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
    pki.write('server.ext', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
    pki.run('x509', '-req', '-in', 'server.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-set_serial', '0x9000', '-days', '20', '-extfile', 'server.ext', '-out', 'server.crt');
    let serial = 0x2000;
    for (const f of ['good', '500', 'truncated', 'huge', 'hang']) pki.issue(`crl-${f}`, 'root', (serial++).toString(16), { cn: 'alice', cdp: `${base}/crl/${f}` });
    for (const f of ['slow', 'garbage', 'other']) pki.issue(`ocsp-${f}`, 'root', (serial++).toString(16), { cn: 'alice', ocsp: `${base}/ocsp/${f}` });
    pki.issue('ocsp-down', 'root', (serial++).toString(16), { cn: 'alice', ocsp: `http://127.0.0.1:${downPort}/ocsp` });
    pki.issue('bystander', 'root', (serial++).toString(16), { cn: 'bystander' });
    pki.record('bystander', 'root');
    crl = Buffer.from(pki.crl('root'));
    // A genuine, CA-signed OCSP response, but for another certificate's serial.
    pki.run('ocsp', '-issuer', 'root.crt', '-cert', 'bystander.crt', '-reqout', 'other.req', '-no_nonce');
    pki.run('ocsp', '-index', 'root.idx', '-CA', 'root.crt', '-rsigner', 'root.crt', '-rkey', 'root.key', '-reqin', 'other.req', '-respout', 'other.resp', '-ndays', '1');
    otherOcsp = readFileSync(pki.path('other.resp'));
    fault = createServer(faultHandler);
    await new Promise<void>((r) => fault.listen(faultPort, '127.0.0.1', r));
}

export async function tearDown(): Promise<void> {
    for (const r of hung) r.destroy();
    fault?.closeAllConnections();
    fault?.close();
    pki.cleanup();
}

  /**
   * For each fault certificate: N concurrent-ish requests, the expected answer on all, /health 200
   * throughout, and the number of log lines that name the fault.
   */
export async function scenario(child: Child, ports: Ports, mode: string, faults: Array<[string, string, Reply]>, logCounts: Map<string, { fault: number; auth: number; requests: number }>, results: string[]): Promise<void> {
    const pid = child.proc.pid!;
    for (const [name, needle, expected] of faults) {
      const from = child.stdout().length;
      const rss0 = rssOf(pid);
      let rssMax = rss0;
      const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssOf(pid))), 50);
      const t0 = Date.now();
      const replies: Reply[] = [];
      // Two waves: the first meets the fault cold, the second whatever the server cached about it.
      for (let wave = 0; wave < 2; wave++) replies.push(...(await Promise.all(Array.from({ length: N / 2 }, () => whoami(ports.https, name)))));
      const healthStatus = await health(ports.http);
      const control = await whoami(ports.https, 'crl-good');
      clearInterval(sampler);
      await sleep(200); // let pino flush
      const faultLines = linesAfter(child, from, needle);
      const authLines = linesAfter(child, from, 'authentication failed');
      const wrong = replies.filter((r) => r.status !== expected.status || JSON.stringify(r.body) !== JSON.stringify(expected.body));
      results.push(
        `${mode} ${name}: ${replies.length} requests in ${Date.now() - t0} ms, ${wrong.length} wrong, /health ${healthStatus}, good cert ${control.status}, RSS +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB, log lines naming the fault ${faultLines.length}, "authentication failed" lines ${authLines.length}`,
      );
      expect(wrong, `${mode} ${name}: ${JSON.stringify(wrong[0])}`).toEqual([]);
      expect(healthStatus).toBe(200);
      expect(control).toEqual({ status: 200, body: ALICE_BODY });
      // The 200 MB body is bounded only by the 256 MiB download limit (buffered, then concatenated),
      // not streamed: up to ~2.5x the limit (RELIABILITY.md, known issue 2). Everything else: 96 MiB.
      expect(rssMax - rss0, `${mode} ${name}: RSS +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(name === 'crl-huge' ? 3 * 256 * 2 ** 20 : 96 * 2 ** 20);
      logCounts.set(`${mode} ${name}`, { fault: faultLines.length, auth: authLines.length, requests: replies.length });
    }
    expect(child.proc.exitCode).toBe(null);
  }

