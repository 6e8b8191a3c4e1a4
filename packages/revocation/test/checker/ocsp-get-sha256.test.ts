import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCertificateVerification } from '@harper-tls/config';
import { createRevocationChecker, parseCertificate, type RevocationCheckerOptions } from '../../src/index.js';
import { children, contentOf, oidOf, readTlv } from '../../src/der/reader.js';
import { buildOcspRequest, certIdFor, HASH_OIDS } from '../../src/ocsp/request.js';
import { OcspFailure, verifyOcspResponse } from '../../src/ocsp/response.js';
import { OpensslPki } from '../helpers/openssl-pki.js';
import { forward, freePort, recordingServer, startOpensslResponder } from '../helpers/ocsp-servers.js';

/**
 * OCSP by GET (RFC 5019 / RFC 6960 appendix A.1) and SHA-256 CertIDs, against `openssl ocsp` on
 * 127.0.0.1 behind recording servers: one that forwards as it received (GET stays GET), one that
 * refuses GET, and one that only answers SHA-256 CertIDs.
 */
const pki = new OpensslPki();
let openssl: ChildProcess;
let responderPort = 0;
type Rec = Awaited<ReturnType<typeof recordingServer>>;
let proxy: Rec; // forwards to openssl as received
let noGet: Rec; // 405 for GET, forwards POST
let only256: Rec; // SHA-1 CertIDs get `mode`, SHA-256 ones are forwarded
let mode: 'unauthorized' | 'malformedRequest' | 'other' | 'sha256-answer' | 'refuse-both' = 'unauthorized';
const LONG_SERIAL = '7f' + 'a5'.repeat(79); // 80 octets: the request no longer fits a GET

/** The CertID of a DER OCSPRequest: its hash name and serial content octets. */
function certIdOf(der: Uint8Array): { hash: string; serial: Buffer } {
  const top = readTlv(der, 0, der.length);
  const tbs = children(der, top)[0]!;
  const list = children(der, tbs).find((t) => t.tag === 0x30)!;
  const certId = children(der, children(der, list)[0]!)[0]!;
  const [alg, , , serial] = children(der, certId);
  const oid = oidOf(der, children(der, alg!)[0]!);
  return { hash: Object.entries(HASH_OIDS).find(([, o]) => o === oid)?.[0] ?? oid, serial: Buffer.from(contentOf(der, serial!)) };
}

const ca = () => parseCertificate(pki.pem('ca'));
const sha256RequestFor = (serial: Uint8Array) => {
  const issuer = ca();
  const id = { hash: 'sha256' as const, nameHash: createHash('sha256').update(issuer.subjectDer).digest(), keyHash: createHash('sha256').update(issuer.subjectPublicKeyBits).digest(), serial };
  return Buffer.from(buildOcspRequest(id, { nonce: false }).der);
};

beforeAll(async () => {
  proxy = await recordingServer((der, req) => forward(responderPort, der, req.method === 'GET' ? 'GET' : 'POST'));
  noGet = await recordingServer((der, req) => (req.method === 'GET' ? 405 : forward(responderPort, der)));
  only256 = await recordingServer(async (der) => {
    const { hash, serial } = certIdOf(der);
    if (hash === 'sha256' && mode !== 'refuse-both') return forward(responderPort, der);
    if (mode === 'unauthorized' || mode === 'refuse-both') return Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x06]);
    if (mode === 'malformedRequest') return Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]);
    // A genuine signed answer about the SHA-256 CertID of the same serial, or of another one.
    if (mode === 'sha256-answer') return forward(responderPort, sha256RequestFor(serial));
    return forward(responderPort, sha256RequestFor(Buffer.from('20ff', 'hex')));
  });
  responderPort = await freePort();
  const at = (p: number, path = '/ocsp') => `http://127.0.0.1:${p}${path}`;

  pki.ca('ca');
  pki.issue('signer', 'ca', '0a01', { ocspSigning: true });
  const leaves: Array<[string, string, string]> = [
    ['get', '2001', at(proxy.port)],
    ['slash', '2002', at(proxy.port, '/ocsp/')],
    ['revoked', '2003', at(proxy.port)],
    ['long', LONG_SERIAL, at(proxy.port)],
    ['noget1', '2004', at(noGet.port)],
    ['noget2', '2005', at(noGet.port)],
    ['s1', '2006', at(only256.port, '/')],
    ['s2', '2007', at(only256.port, '/')],
    ['s3', '2008', at(only256.port, '/')],
    ['other', '20ff', at(proxy.port)],
  ];
  for (const [name, serial, ocsp] of leaves) {
    pki.issue(name, 'ca', serial, { ocsp });
    pki.record(name, 'ca');
  }
  pki.revoke('revoked', 'ca');
  openssl = await startOpensslResponder(pki.dir, responderPort, 'signer');
}, 60_000);

afterAll(async () => {
  openssl?.kill('SIGKILL');
  await Promise.all([proxy, noGet, only256].map((s) => s?.close()));
  pki.cleanup();
});

const checker = (extra: Partial<RevocationCheckerOptions> = {}) => {
  const config = defaultCertificateVerification();
  config.crl.enabled = false;
  config.ocsp = { ...config.ocsp, timeout: 2000 };
  return createRevocationChecker({ config, ...extra });
};
const chain = (leaf: string) => [pki.pem(leaf), pki.pem('ca')];
const serialOf = (name: string) => Buffer.from(parseCertificate(pki.pem(name)).serial);
const since = (r: Rec, n: number) => r.seen.slice(n);

describe('OCSP by GET', () => {
  it('a small request goes by GET <responder URL>/<url-encoded base64>, and openssl ocsp answers it', async () => {
    const n = proxy.seen.length;
    const v = await checker().check(chain('get'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    const [req, ...more] = since(proxy, n);
    expect(more).toHaveLength(0);
    expect(req!.method).toBe('GET');
    const m = /^\/ocsp\/([^/]+)$/.exec(req!.url);
    expect(m).not.toBeNull();
    const encoded = m![1]!;
    expect(encoded).toMatch(/^[A-Za-z0-9%]+$/); // "+", "/" and "=" are escaped
    expect(encoded.length).toBeLessThan(255);
    expect(Buffer.from(decodeURIComponent(encoded), 'base64').equals(req!.der)).toBe(true);
    expect(certIdOf(req!.der)).toEqual({ hash: 'sha1', serial: serialOf('get') });
  });

  it('a trailing slash in the AIA URL is not doubled; revoked answers come back by GET too', async () => {
    const n = proxy.seen.length;
    const c = checker();
    expect((await c.check(chain('slash'))).status).toBe('good');
    const r = await c.check(chain('revoked'));
    expect(r).toMatchObject({ status: 'revoked', allowed: false });
    expect(r.certificates[0]!.reason).toBe('keyCompromise');
    const seen = since(proxy, n);
    expect(seen.map((s) => s.method)).toEqual(['GET', 'GET']);
    expect(seen[0]!.url).toMatch(/^\/ocsp\/[A-Za-z0-9%]+$/);
    expect(certIdOf(seen[0]!.der).serial).toEqual(serialOf('slash'));
  });

  it('a request of 255 bytes or more once encoded goes by POST (an 80-octet serial), and is answered', async () => {
    const n = proxy.seen.length;
    const v = await checker().check(chain('long'));
    expect(v.status).toBe('good');
    const seen = since(proxy, n);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/ocsp', contentType: 'application/ocsp-request' });
    expect(encodeURIComponent(seen[0]!.der.toString('base64')).length).toBeGreaterThanOrEqual(255);
    expect(certIdOf(seen[0]!.der).serial).toEqual(serialOf('long'));
  });

  it("ocspMethod: 'post' always POSTs", async () => {
    const n = proxy.seen.length;
    expect((await checker({ ocspMethod: 'post' }).check(chain('get'))).status).toBe('good');
    expect(since(proxy, n).map((s) => [s.method, s.url])).toEqual([['POST', '/ocsp']]);
    expect(() => checker({ ocspMethod: 'put' as 'post' })).toThrow(/ocspMethod/);
  });

  it('a responder that refuses GET (405) gets the request by POST, and later ones go straight to POST', async () => {
    const c = checker();
    const n = noGet.seen.length;
    expect((await c.check(chain('noget1'))).status).toBe('good');
    expect(since(noGet, n).map((s) => s.method)).toEqual(['GET', 'POST']);
    expect((await c.check(chain('noget2'))).status).toBe('good');
    expect(since(noGet, n).map((s) => s.method)).toEqual(['GET', 'POST', 'POST']);
    expect(c.stats.ocspRequests).toBe(3);
  });
});

describe('SHA-256 CertIDs', () => {
  it('builds the same request as openssl ocsp -sha256 (and -sha1) -issuer -cert', () => {
    for (const hash of ['sha256', 'sha1'] as const) {
      pki.run('ocsp', `-${hash}`, '-issuer', 'ca.crt', '-cert', 'get.crt', '-no_nonce', '-reqout', `get-${hash}.req`);
      const theirs = Buffer.from(pki.der(`get-${hash}.req`));
      const ours = Buffer.from(buildOcspRequest(certIdFor(parseCertificate(pki.pem('get')), ca(), hash), { nonce: false }).der);
      expect(ours.toString('hex')).toBe(theirs.toString('hex'));
    }
  });

  it("ocspHash: 'sha256' asks openssl ocsp with a SHA-256 CertID: good and revoked", async () => {
    const n = proxy.seen.length;
    const c = checker({ ocspHash: 'sha256' });
    expect((await c.check(chain('get'))).status).toBe('good');
    expect((await c.check(chain('revoked'))).status).toBe('revoked');
    expect(since(proxy, n).map((s) => certIdOf(s.der).hash)).toEqual(['sha256', 'sha256']);
    expect(c.stats.ocspRequests).toBe(2);
    expect(() => checker({ ocspHash: 'md5' as 'sha1' })).toThrow(/ocspHash/);
  });

  it('a response in SHA-256 to a SHA-1 question is matched by recomputing the CertID with SHA-256', async () => {
    mode = 'sha256-answer';
    const n = only256.seen.length;
    const c = checker();
    const v = await c.check(chain('s1'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    expect(since(only256, n).map((s) => certIdOf(s.der).hash)).toEqual(['sha1']);
    expect(c.stats.ocspRequests).toBe(1);
  });

  it('verifyOcspResponse: a SHA-256 SingleResponse matches only the certificate it names', async () => {
    const resp = await forward(responderPort, sha256RequestFor(serialOf('s1')));
    const issuer = ca();
    const at = new Date();
    const mine = certIdFor(parseCertificate(pki.pem('s1')), issuer, 'sha1');
    expect(verifyOcspResponse(resp, { certId: mine, issuer, at }).status).toBe('good');
    const other = certIdFor(parseCertificate(pki.pem('s2')), issuer, 'sha1');
    let err: unknown;
    try {
      verifyOcspResponse(resp, { certId: other, issuer, at });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OcspFailure);
    expect(err).toMatchObject({ kind: 'invalid', detail: 'no-matching-response', code: 'ERR_REVOCATION_OCSP_INVALID' });
  });

  // [what the SHA-256-only responder does with a SHA-1 CertID]
  it.each([['unauthorized'], ['malformedRequest'], ['other']] as const)('a responder that answers SHA-1 CertIDs with %s is asked again with SHA-256, once, and then directly', async (m) => {
    mode = m;
    const n = only256.seen.length;
    const c = checker();
    const v = await c.check(chain('s1'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    expect(v.certificates[0]).toMatchObject({ method: 'ocsp', cache: 'miss' });
    expect(since(only256, n).map((s) => certIdOf(s.der).hash)).toEqual(['sha1', 'sha256']);
    expect(c.stats.ocspRequests).toBe(2);
    // The same responder, another certificate: SHA-256 straight away.
    expect((await c.check(chain('s2'))).status).toBe('good');
    expect(since(only256, n).map((s) => certIdOf(s.der).hash)).toEqual(['sha1', 'sha256', 'sha256']);
    // A new checker knows nothing of it yet.
    mode = 'unauthorized';
    const fresh = checker();
    expect((await fresh.check(chain('s3'))).status).toBe('good');
    expect(fresh.stats.ocspRequests).toBe(2);
  });

  it('retries only once: a responder refusing both hashes leaves the certificate unknown, with both errors', async () => {
    mode = 'refuse-both';
    const n = only256.seen.length;
    const c = checker();
    const v = await c.check(chain('s1'));
    expect(v).toMatchObject({ status: 'unknown', allowed: false });
    const errors = v.certificates[0]!.errors.join(' ');
    expect(errors).toMatch(/unauthorized \(SHA1 CertID\).*unauthorized \(SHA256 CertID\)/);
    expect(since(only256, n).map((s) => certIdOf(s.der).hash)).toEqual(['sha1', 'sha256']);
    expect(c.stats.ocspRequests).toBe(2);
  });
});
