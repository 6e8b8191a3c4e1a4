import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer as createHttpServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { defaultCertificateVerification, type CertificateVerificationConfig } from '@harper-tls/config';
import { createRevocationChecker, type RevocationCheckerOptions } from '../../src/index.js';
import { OpensslPki } from './openssl-pki.js';
import { freePort, startOpensslResponder } from './ocsp-servers.js';

/**
 * Shared fixture of the checker tests (imported by test/checker/*.test.ts; each file gets its own
 * PKI and servers). The checker against real other sides on 127.0.0.1: `openssl ocsp` as the OCSP responder
 * (a delegated signer, and one signed by a key of another CA), CRLs made by `openssl ca -gencrl`
 * served over HTTP by a local server, and that server misbehaving (500, truncated, oversize,
 * hung, slow, garbage, an answer about another certificate).
 */

const execFileP = promisify(execFile);
export const pki = new OpensslPki();
export let http: Server;
export let port = 0;
export const hits = new Map<string, number>();
export const routes = new Map<string, (res: import('node:http').ServerResponse) => void>();
const responders: ChildProcess[] = [];
export let ocspPort = 0;
export let evilOcspPort = 0;
export let downPort = 0;
export let noEkuOcspPort = 0;
export const base = () => `http://127.0.0.1:${port}`;

function startResponder(p: number, signer: string): Promise<void> {
  return startOpensslResponder(pki.dir, p, signer).then((child) => void responders.push(child));
}

export const serve = (body: Uint8Array | string, type = 'application/pkix-crl') => (res: import('node:http').ServerResponse) => {
  res.writeHead(200, { 'content-type': type });
  res.end(body);
};

export let caCrl: Uint8Array;
export let caCrlInterRevoked: Uint8Array;

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
  [ocspPort, evilOcspPort, downPort, noEkuOcspPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ocsp = `http://127.0.0.1:${ocspPort}/`;
  const crlUrl = `${base()}/crl/ca`;

  pki.ca('ca');
  pki.ca('evil');
  pki.ca('fake', 'ca CA'); // same name as the real CA, another key
  pki.issue('signer', 'ca', '0a01', { ocspSigning: true });
  pki.issue('evilsigner', 'evil', '0b01', { ocspSigning: true });
  pki.issue('noekusigner', 'ca', '0a02'); // issued by the CA, but without id-kp-OCSPSigning
  const leaves: Array<[string, string, Parameters<OpensslPki['issue']>[3]]> = [
    ['good', '1001', { ocsp }],
    ['revoked', '1002', { ocsp }],
    ['unknown', '1003', { ocsp }],
    ['down', '1004', { ocsp: `http://127.0.0.1:${downPort}/` }],
    ['slow', '1005', { ocsp: `${base()}/ocsp/slow` }],
    ['garbage', '1006', { ocsp: `${base()}/ocsp/garbage` }],
    ['wrongsigner', '1007', { ocsp: `http://127.0.0.1:${evilOcspPort}/` }],
    ['noekusigned', '1015', { ocsp: `http://127.0.0.1:${noEkuOcspPort}/` }],
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

  await Promise.all([startResponder(ocspPort, 'signer'), startResponder(evilOcspPort, 'evilsigner'), startResponder(noEkuOcspPort, 'noekusigner')]);
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

export type Modes = { global?: 'fail-open' | 'fail-closed'; crl?: false | { failureMode?: 'fail-open' | 'fail-closed'; cacheTtl?: number }; ocsp?: false | { failureMode?: 'fail-open' | 'fail-closed' } };

export function config(m: Modes = {}): CertificateVerificationConfig {
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

export const checker = (m: Modes = {}, extra: Partial<RevocationCheckerOptions> = {}) => createRevocationChecker({ config: config(m), ...extra });
export const chainOf = (leaf: string, ...issuers: string[]) => [leaf, ...(issuers.length ? issuers : ['ca'])].map((n) => pki.pem(n));

