import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, type X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MtlsConfig } from '@harper-tls/config';
import { compileTrustedProxies, createAuthenticator, createMemoryUserStore, createTokenService, type RevocationGate, type UserStore, type TokenService } from '../../src/index.js';
import { makePki, type TestPki } from '../certs.js';

let pki: TestPki;
let users: UserStore;
let tokens: TokenService;
const closers: Array<() => Promise<void>> = [];
const revoked = new Set<string>();
/** Revocation by serial, called with the whole chain as the authenticator passes it to the real checker. */
const gate: RevocationGate & { chains: number[] } = {
  chains: [],
  async check(chain) {
    gate.chains.push(chain.length);
    const { X509Certificate } = await import('node:crypto');
    const status = chain.some((d) => revoked.has(new X509Certificate(d).serialNumber)) ? 'revoked' : 'good';
    return { status, allowed: status === 'good' };
  },
};

beforeAll(async () => {
  pki = makePki();
  users = createMemoryUserStore();
  for (const u of ['alice', 'bob', 'dave']) await users.create({ username: u, password: `${u}-pw`, role: 'user' });
  tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 120_000 });
});
afterAll(async () => {
  for (const c of closers) await c();
});

/** A plain HTTP server (the proxy terminated TLS) answering with the authenticator's verdict. */
async function serve(format: 'xfcc' | 'pem-urlencoded' | 'der-base64', trusted: string[], mtls: Partial<MtlsConfig> = {}, cas: X509Certificate[] = [pki.caA.x509]) {
  const proxies = compileTrustedProxies(trusted);
  const header = { xfcc: 'x-forwarded-client-cert', 'pem-urlencoded': 'x-ssl-client-cert', 'der-base64': 'x-ssl-client-der' }[format];
  const auth = createAuthenticator({
    users,
    tokens,
    mtls: { required: false, user: { kind: 'cn' }, certificateVerification: { enabled: true } as MtlsConfig['certificateVerification'], ...mtls },
    trustedCas: () => cas,
    revocation: gate,
    forwarded: { header, format, trusted: (req) => proxies.contains(req.socket.remoteAddress) },
  });
  const server = http.createServer((req, res) => {
    void auth.authenticate(req).then((r) => {
      res.writeHead(r.ok ? 200 : r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.ok ? { username: r.user.username, authenticatedBy: r.method } : { error: r.error, reason: r.reason }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  return (headers: Record<string, string | string[]>, localAddress = '127.0.0.1') =>
    new Promise<{ status: number; body: Record<string, string> }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/', headers, localAddress }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(b) }));
      });
      req.on('error', reject);
      req.end();
    });
}

const esc = (pem: string) => encodeURIComponent(pem);
const der = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
const basic = (u: string) => 'Basic ' + Buffer.from(`${u}:${u}-pw`).toString('base64');

describe('forwarded certificates on the authenticator path', () => {
  it('pem-urlencoded from a trusted proxy: good, chain through an intermediate, revoked (CRL/OCSP gate gets the whole chain), expired, foreign CA, serverAuth only, missing', async () => {
    const ask = await serve('pem-urlencoded', ['127.0.0.1']);
    expect(await ask({ 'x-ssl-client-cert': esc(pki.alice.cert) })).toEqual({ status: 200, body: { username: 'alice', authenticatedBy: 'mtls' } });
    gate.chains.length = 0;
    expect((await ask({ 'x-ssl-client-cert': esc(pki.dave.cert + pki.inter.cert) })).body.username).toBe('dave');
    expect(gate.chains).toEqual([3]); // dave, the intermediate, the anchor
    revoked.add(pki.bob.x509.serialNumber);
    expect(await ask({ 'x-ssl-client-cert': esc(pki.bob.cert) })).toMatchObject({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    expect(await ask({ 'x-ssl-client-cert': esc(pki.expired.cert) })).toMatchObject({ status: 401, body: { error: 'Login failed', reason: expect.stringMatching(/expired/) } });
    expect(await ask({ 'x-ssl-client-cert': esc(pki.untrustedAlice.cert) })).toMatchObject({ status: 401, body: { reason: expect.stringMatching(/does not chain/) } });
    expect(await ask({ 'x-ssl-client-cert': esc(pki.serverAuthOnly.cert) })).toMatchObject({ status: 401, body: { reason: expect.stringMatching(/client authentication/) } });
    expect(await ask({})).toMatchObject({ status: 401, body: { reason: expect.stringMatching(/no forwarded client certificate/) } });
    // Basic still works through the proxy when mTLS is not required.
    expect((await ask({ authorization: basic('alice') })).body.authenticatedBy).toBe('basic');
  });

  it('the same header from a peer outside trustedProxies is never read', async () => {
    const ask = await serve('pem-urlencoded', ['10.0.0.0/8', '::1']);
    expect(await ask({ 'x-ssl-client-cert': esc(pki.alice.cert) })).toMatchObject({ status: 401, body: { reason: 'no credentials' } });
  });

  it('mtls.required: through the proxy, credentials alone do not replace the certificate', async () => {
    const ask = await serve('der-base64', ['127.0.0.0/8'], { required: true });
    expect((await ask({ 'x-ssl-client-der': der(pki.alice.cert) })).body.username).toBe('alice');
    expect(await ask({ authorization: basic('alice') })).toMatchObject({ status: 401, body: { error: 'Login failed' } });
    expect(await ask({ authorization: basic('alice'), 'x-ssl-client-der': der(pki.untrustedAlice.cert) })).toMatchObject({ status: 401 });
  });

  it('xfcc: an attacker element before the proxy\'s is ignored; duplicates 401; undecodable 400', async () => {
    const ask = await serve('xfcc', ['127.0.0.1']);
    const attacker = `Cert="${esc(pki.alice.cert)}"`;
    expect((await ask({ 'x-forwarded-client-cert': `${attacker},Cert="${esc(pki.dave.cert)}";Chain="${esc(pki.dave.cert + pki.inter.cert)}"` })).body.username).toBe('dave');
    expect(await ask({ 'x-forwarded-client-cert': `${attacker},By=spiffe://proxy` })).toMatchObject({ status: 401 });
    expect(await ask({ 'x-forwarded-client-cert': [`Cert="${esc(pki.alice.cert)}"`, `Cert="${esc(pki.bob.cert)}"`] })).toMatchObject({ status: 401, body: { reason: expect.stringMatching(/appears 2 times/) } });
    expect(await ask({ 'x-forwarded-client-cert': 'Cert="open' })).toMatchObject({ status: 400, body: { error: 'The forwarded client certificate header cannot be decoded' } });
  });

  it('CAs come from the listener at request time (a CA added at run time applies to the next request)', async () => {
    const cas = [pki.caA.x509];
    const ask = await serve('pem-urlencoded', ['127.0.0.1'], {}, cas);
    expect((await ask({ 'x-ssl-client-cert': esc(pki.untrustedAlice.cert) })).status).toBe(401);
    cas.push(pki.caB.x509);
    expect((await ask({ 'x-ssl-client-cert': esc(pki.untrustedAlice.cert) })).body.username).toBe('alice');
  });
});
