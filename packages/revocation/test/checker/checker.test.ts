import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCertificateVerification, type CertificateVerificationConfig } from '@harper-tls/config';
import { createRevocationChecker, type RevocationCheckerOptions } from '../../src/index.js';
import { OpensslPki } from '../helpers/openssl-pki.js';

/**
 * The checker against real other sides on 127.0.0.1: `openssl ocsp` as the OCSP responder
 * (a delegated signer, and one signed by a key of another CA), CRLs made by `openssl ca -gencrl`
 * served over HTTP by a local server, and that server misbehaving (500, truncated, oversize,
 * hung, slow, garbage, an answer about another certificate).
 */

const execFileP = promisify(execFile);
const pki = new OpensslPki();
let http: Server;
let port = 0;
const hits = new Map<string, number>();
const routes = new Map<string, (res: import('node:http').ServerResponse) => void>();
const responders: ChildProcess[] = [];
let ocspPort = 0;
let evilOcspPort = 0;
let downPort = 0;
const base = () => `http://127.0.0.1:${port}`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Starts `openssl ocsp` on port `p` and resolves once it says it is waiting for clients. (A TCP
 * probe is not usable: the responder is single-threaded and a probe connection that sends no
 * request wedges it.)
 */
function startResponder(p: number, signer: string): Promise<void> {
  const child = spawn('openssl', ['ocsp', '-index', 'ca.idx', '-port', String(p), '-rsigner', `${signer}.crt`, '-rkey', `${signer}.key`, '-CA', 'ca.crt', '-ndays', '1'], { cwd: pki.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  responders.push(child);
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`openssl ocsp did not start: ${text}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('waiting for OCSP client connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`openssl ocsp exited (${code}): ${text}`)));
  });
}

const serve = (body: Uint8Array | string, type = 'application/pkix-crl') => (res: import('node:http').ServerResponse) => {
  res.writeHead(200, { 'content-type': type });
  res.end(body);
};

let caCrl: Uint8Array;
let caCrlInterRevoked: Uint8Array;

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (route) route(res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  port = (http.address() as { port: number }).port;
  [ocspPort, evilOcspPort, downPort] = [await freePort(), await freePort(), await freePort()];
  const ocsp = `http://127.0.0.1:${ocspPort}/`;
  const crlUrl = `${base()}/crl/ca`;

  pki.ca('ca');
  pki.ca('evil');
  pki.ca('fake', 'ca CA'); // same name as the real CA, another key
  pki.issue('signer', 'ca', '0a01', { ocspSigning: true });
  pki.issue('evilsigner', 'evil', '0b01', { ocspSigning: true });
  const leaves: Array<[string, string, Parameters<OpensslPki['issue']>[3]]> = [
    ['good', '1001', { ocsp }],
    ['revoked', '1002', { ocsp }],
    ['unknown', '1003', { ocsp }],
    ['down', '1004', { ocsp: `http://127.0.0.1:${downPort}/` }],
    ['slow', '1005', { ocsp: `${base()}/ocsp/slow` }],
    ['garbage', '1006', { ocsp: `${base()}/ocsp/garbage` }],
    ['wrongsigner', '1007', { ocsp: `http://127.0.0.1:${evilOcspPort}/` }],
    ['otherserial', '1008', { ocsp: `${base()}/ocsp/other` }],
    ['crlthenocsp', '1009', { cdp: `${base()}/crl/500`, ocsp }],
    ['crlgood', '100a', { cdp: crlUrl }],
    ['crlrevoked', '100b', { cdp: crlUrl }],
    ['crlpem', '100c', { cdp: `${base()}/crl/ca.pem` }],
    ['crl500', '100d', { cdp: `${base()}/crl/500` }],
    ['crltrunc', '100e', { cdp: `${base()}/crl/truncated` }],
    ['crlbig', '100f', { cdp: `${base()}/crl/big` }],
    ['crlhang', '1010', { cdp: `${base()}/crl/hang` }],
    ['crlfake', '1011', { cdp: `${base()}/crl/fake` }],
    ['bare', '1012', {}],
    ['crl500ocspdown', '1013', { cdp: `${base()}/crl/500`, ocsp: `http://127.0.0.1:${downPort}/` }],
    ['crlfakeocspgood', '1014', { cdp: `${base()}/crl/fake`, ocsp }],
  ];
  for (const [name, serial, opts] of leaves) {
    pki.issue(name, 'ca', serial, opts);
    if (name !== 'unknown') pki.record(name, 'ca');
  }
  pki.issue('inter', 'ca', '2001', { ca: true, cdp: crlUrl, cn: 'Intermediate CA' });
  pki.record('inter', 'ca');
  pki.issue('underinter', 'inter', '3001', { cdp: `${base()}/crl/inter` });
  pki.database('inter');
  pki.revoke('revoked', 'ca');
  pki.revoke('crlrevoked', 'ca');
  caCrl = pki.crl('ca');
  pki.revoke('inter', 'ca', 'cACompromise');
  caCrlInterRevoked = pki.crl('ca', 'ca-inter.crl');
  const fakeCrl = pki.crl('fake');

  routes.set('/crl/ca', (res) => serve(caCrl)(res));
  routes.set('/crl/ca.pem', serve(pki.run('crl', '-inform', 'DER', '-in', 'ca.crl').toString(), 'application/x-pem-file'));
  routes.set('/crl/500', (res) => {
    res.writeHead(500);
    res.end('internal error');
  });
  routes.set('/crl/truncated', serve(caCrl.subarray(0, Math.floor(caCrl.length / 2))));
  routes.set('/crl/big', serve(randomBytes(64 * 1024)));
  routes.set('/crl/hang', (res) => res.writeHead(200)); // headers, then nothing
  routes.set('/crl/fake', serve(fakeCrl));
  routes.set('/ocsp/slow', (res) => setTimeout(() => serve('late', 'application/ocsp-response')(res), 3000).unref());
  routes.set('/ocsp/garbage', serve(randomBytes(300), 'application/ocsp-response'));

  await Promise.all([startResponder(ocspPort, 'signer'), startResponder(evilOcspPort, 'evilsigner')]);
  // A genuine, signed answer about "good", served for a question about "otherserial".
  await execFileP('openssl', ['ocsp', '-issuer', 'ca.crt', '-cert', 'good.crt', '-url', `http://127.0.0.1:${ocspPort}/`, '-no_nonce', '-respout', 'good.ocsp', '-noverify'], { cwd: pki.dir, timeout: 10_000 });
  routes.set('/ocsp/other', serve(pki.der('good.ocsp'), 'application/ocsp-response'));
}, 60_000);

afterAll(async () => {
  for (const r of responders) r.kill('SIGKILL');
  http.closeAllConnections();
  await new Promise<void>((r) => http.close(() => r()));
  pki.cleanup();
});

type Modes = { global?: 'fail-open' | 'fail-closed'; crl?: false | { failureMode?: 'fail-open' | 'fail-closed'; cacheTtl?: number }; ocsp?: false | { failureMode?: 'fail-open' | 'fail-closed' } };

function config(m: Modes = {}): CertificateVerificationConfig {
  const c = defaultCertificateVerification();
  c.failureMode = m.global ?? 'fail-closed';
  c.crl = { ...c.crl, timeout: 1000 };
  c.ocsp = { ...c.ocsp, timeout: 1000 };
  if (m.crl === false) c.crl.enabled = false;
  else if (m.crl) Object.assign(c.crl, m.crl);
  if (m.ocsp === false) c.ocsp.enabled = false;
  else if (m.ocsp) Object.assign(c.ocsp, m.ocsp);
  return c;
}

const checker = (m: Modes = {}, extra: Partial<RevocationCheckerOptions> = {}) => createRevocationChecker({ config: config(m), ...extra });
const chainOf = (leaf: string, ...issuers: string[]) => [leaf, ...(issuers.length ? issuers : ['ca'])].map((n) => pki.pem(n));

describe('OCSP against openssl ocsp on 127.0.0.1', () => {
  it('good, with the responder URL and a fresh (miss) then cached (hit) answer', async () => {
    const c = checker({ crl: false });
    const v = await c.check(chainOf('good'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    expect(v.certificates[0]).toMatchObject({ status: 'good', method: 'ocsp', source: `http://127.0.0.1:${ocspPort}/`, cache: 'miss' });
    expect((await c.check(chainOf('good'))).certificates[0]!.cache).toBe('hit');
    expect(c.stats.ocspRequests).toBe(1);
  });

  it('revoked, with the reason', async () => {
    const v = await checker({ crl: false }).check(chainOf('revoked'));
    expect(v).toMatchObject({ status: 'revoked', allowed: false });
    expect(v.certificates[0]).toMatchObject({ method: 'ocsp', reason: 'keyCompromise' });
  });

  it('20 concurrent checks of the same certificate send one request', async () => {
    const c = checker({ crl: false });
    const all = await Promise.all(Array.from({ length: 20 }, () => c.check(chainOf('good'))));
    expect(all.every((v) => v.status === 'good')).toBe(true);
    expect(c.stats.ocspRequests).toBe(1);
  });

  // [certificate, what happened, allowed when OCSP is fail-open]
  const failures: Array<[string, string, boolean]> = [
    ['unknown', 'the responder does not know the serial', true],
    ['down', 'the responder is down (connection refused)', true],
    ['slow', 'the responder answers after the timeout', true],
    ['garbage', 'the responder returns garbage', true],
    ['wrongsigner', 'the response is signed by a key of another CA', false],
    ['otherserial', 'the response is about another certificate', false],
  ];
  it.each(failures)('%s (%s): unknown; refused fail-closed; fail-open allows it: %s', async (name, _what, openAllows) => {
    const t0 = Date.now();
    const closed = await checker({ crl: false }).check(chainOf(name));
    expect(closed).toMatchObject({ status: 'unknown', allowed: false });
    expect(closed.certificates[0]!.errors.join(' ')).toMatch(/ocsp: /);
    const open = await checker({ crl: false, ocsp: { failureMode: 'fail-open' }, global: 'fail-open' }).check(chainOf(name));
    expect(open.status).toBe('unknown');
    expect(open.allowed).toBe(openAllows);
    expect(Date.now() - t0).toBeLessThan(6000); // the 1 s timeout bounds the slow responder
  });
});

describe('CRLs over HTTP (openssl ca -gencrl), then OCSP, then the failure modes', () => {
  it('good and revoked from the distribution point, DER and PEM', async () => {
    const c = checker({ ocsp: false });
    expect((await c.check(chainOf('crlgood'))).certificates[0]).toMatchObject({ status: 'good', method: 'crl', source: `${base()}/crl/ca` });
    const r = await c.check(chainOf('crlrevoked'));
    expect(r).toMatchObject({ status: 'revoked', allowed: false });
    expect(r.certificates[0]).toMatchObject({ method: 'crl', reason: 'keyCompromise', cache: 'hit' });
    expect((await c.check(chainOf('crlpem'))).status).toBe('good');
  });

  it('falls back to OCSP when the CRL cannot be had', async () => {
    const v = await checker().check(chainOf('crlthenocsp'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    expect(v.certificates[0]!.method).toBe('ocsp');
    expect(v.certificates[0]!.errors.join(' ')).toMatch(/crl: .*500/);
  });

  it('checks the whole chain: a revoked intermediate revokes the leaf under it', async () => {
    routes.set('/crl/inter', serve(pki.crl('inter')));
    const good = await checker({ ocsp: false }).check(chainOf('underinter', 'inter', 'ca'));
    expect(good.status).toBe('good');
    expect(good.certificates.map((c) => c.status)).toEqual(['good', 'good']);
    routes.set('/crl/ca', serve(caCrlInterRevoked));
    try {
      const bad = await checker({ ocsp: false }).check(chainOf('underinter', 'inter', 'ca'));
      expect(bad).toMatchObject({ status: 'revoked', allowed: false });
      expect(bad.certificates.map((c) => c.status)).toEqual(['good', 'revoked']);
      expect(bad.certificates[1]!.reason).toBe('cACompromise');
    } finally {
      routes.set('/crl/ca', (res) => serve(caCrl)(res));
    }
  });

  it('100 concurrent checks of a cold distribution point download it once', async () => {
    const before = hits.get('/crl/ca') ?? 0;
    const c = checker({ ocsp: false });
    const all = await Promise.all(Array.from({ length: 100 }, () => c.check(chainOf('crlgood'))));
    expect(all.every((v) => v.status === 'good')).toBe(true);
    expect((hits.get('/crl/ca') ?? 0) - before).toBe(1);
  });

  it('a persistent store spares a new checker (a restart) the download', async () => {
    const map = new Map<string, Uint8Array>();
    const store = { get: async (k: string) => map.get(k), put: async (k: string, v: Uint8Array) => void map.set(k, v) };
    const before = hits.get('/crl/ca') ?? 0;
    expect((await checker({ ocsp: false }, { store }).check(chainOf('crlgood'))).status).toBe('good');
    await new Promise((r) => setTimeout(r, 20)); // the store write is not awaited by the check
    expect(map.size).toBe(1);
    const second = await checker({ ocsp: false }, { store }).check(chainOf('crlrevoked'));
    expect(second.status).toBe('revoked');
    expect((hits.get('/crl/ca') ?? 0) - before).toBe(1);
  });

  it('serves the cached CRL (stale) when a refresh after cacheTtl fails, within nextUpdate + grace', async () => {
    let now = Date.now();
    const c = checker({ ocsp: false, crl: { cacheTtl: 1000 } }, { now: () => new Date(now) });
    expect((await c.check(chainOf('crlgood'))).certificates[0]!.cache).toBe('miss');
    routes.set('/crl/ca', routes.get('/crl/500')!);
    try {
      now += 5000;
      const v = await c.check(chainOf('crlrevoked'), { at: new Date(now) });
      expect(v.status).toBe('revoked');
      expect(v.certificates[0]!.cache).toBe('stale');
    } finally {
      routes.set('/crl/ca', (res) => serve(caCrl)(res));
    }
  });

  // [certificate, what the distribution point does]
  const broken: Array<[string, string]> = [
    ['crl500', 'answers 500'],
    ['crltrunc', 'serves a truncated CRL'],
    ['crlbig', 'serves more than the size limit'],
    ['crlhang', 'never finishes the body'],
  ];
  it.each(broken)('%s (the CRL server %s): unknown; refused fail-closed, allowed by crl fail-open', async (name) => {
    const opts = { maxDownloadBytes: 32 * 1024 };
    const closed = await checker({ ocsp: false }, opts).check(chainOf(name));
    expect(closed).toMatchObject({ status: 'unknown', allowed: false });
    const open = await checker({ ocsp: false, crl: { failureMode: 'fail-open' } }, opts).check(chainOf(name));
    expect(open).toMatchObject({ status: 'unknown', allowed: true });
  });

  it('a CRL with the right issuer name but a bad signature is never accepted, in any mode', async () => {
    for (const m of [{}, { global: 'fail-open', crl: { failureMode: 'fail-open' }, ocsp: { failureMode: 'fail-open' } }] as Modes[]) {
      const v = await checker(m).check(chainOf('crlfake'));
      expect(v).toMatchObject({ status: 'unknown', allowed: false });
    }
    // ... but a good OCSP answer still settles it.
    expect((await checker().check(chainOf('crlfakeocspgood'))).status).toBe('good');
  });
});

describe('failure-mode matrix (SPEC.md section 2)', () => {
  // [certificate, global, crl mode, ocsp mode, allowed]
  const rows: Array<[string, 'fail-open' | 'fail-closed', 'fail-open' | 'fail-closed', 'fail-open' | 'fail-closed', boolean]> = [
    // nothing to ask (no CDP, no AIA): the global mode decides
    ['bare', 'fail-closed', 'fail-open', 'fail-open', false],
    ['bare', 'fail-open', 'fail-closed', 'fail-closed', true],
    // only the CRL failed: its mode decides
    ['crl500', 'fail-closed', 'fail-open', 'fail-closed', true],
    ['crl500', 'fail-open', 'fail-closed', 'fail-open', false],
    // only OCSP failed: its mode decides
    ['down', 'fail-closed', 'fail-closed', 'fail-open', true],
    ['down', 'fail-open', 'fail-open', 'fail-closed', false],
    // both failed: allowed only if both are fail-open
    ['crl500ocspdown', 'fail-closed', 'fail-open', 'fail-open', true],
    ['crl500ocspdown', 'fail-open', 'fail-open', 'fail-closed', false],
    ['crl500ocspdown', 'fail-open', 'fail-closed', 'fail-open', false],
    // an invalid answer is never allowed
    ['wrongsigner', 'fail-open', 'fail-open', 'fail-open', false],
    ['crlfake', 'fail-open', 'fail-open', 'fail-open', false],
    // an answer is an answer, whatever the modes
    ['revoked', 'fail-open', 'fail-open', 'fail-open', false],
    ['good', 'fail-closed', 'fail-closed', 'fail-closed', true],
  ];
  it.each(rows)('%s with global %s, crl %s, ocsp %s → allowed %s', async (name, global, crl, ocsp, allowed) => {
    const v = await checker({ global, crl: { failureMode: crl }, ocsp: { failureMode: ocsp } }).check(chainOf(name));
    expect(v.allowed).toBe(allowed);
  });
});
