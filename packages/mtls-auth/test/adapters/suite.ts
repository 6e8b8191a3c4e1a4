import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MtlsOptions } from '../../src/adapters/options.js';
import { Agent } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { createCrl } from '@harper-tls/cert-gen';
import type { FetchLike } from '@harper-tls/revocation';
import { get, makeAdapterPki, type AdapterPki } from './harness.js';

/** Starts the framework's app with `mtls(options)` in front of GET /whoami → `{user, clientCertificate}`. */
export type StartApp = (pki: AdapterPki, options: MtlsOptions) => Promise<{ port: number; close(): Promise<void> }>;

/** The behaviour every adapter shares (SPEC section 9), over real TLS with real certificates. */
export function adapterSuite(name: string, start: StartApp): void {
  describe(`${name} adapter (shared behaviour)`, () => {
    let pki: AdapterPki;
    const apps: Array<{ close(): Promise<void> }> = [];
    const app = async (options: MtlsOptions) => {
      const a = await start(pki, options);
      apps.push(a);
      return a.port;
    };
    beforeAll(async () => {
      pki = await makeAdapterPki();
    });
    afterAll(async () => {
      for (const a of apps) await a.close();
      await pki.close();
    });

    it('a verified certificate: user from the CN with role null, clientCertificate in the section 6 shape', async () => {
      const port = await app({});
      const r = await get(pki, port, '/whoami', pki.alice);
      expect(r.status).toBe(200);
      expect(r.body.user).toEqual({ username: 'alice', role: null, authenticatedBy: 'mtls' });
      expect(r.body.clientCertificate).toEqual({
        subject: 'CN=alice',
        issuer: 'CN=Adapter Test Issuing CA',
        serialNumber: pki.alice.serialHex.toLowerCase(),
        fingerprint256: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
        san: ['URI:spiffe://example.org/user/alice'],
        validTo: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    });

    it('no certificate: 401 Login failed by default, passed on with nulls when required is false', async () => {
      expect(await get(pki, await app({}), '/whoami')).toEqual({ status: 401, body: { error: 'Login failed' } });
      expect(await get(pki, await app({ required: false }), '/whoami')).toEqual({ status: 200, body: { user: null, clientCertificate: null } });
    });

    it('a certificate the TLS socket did not verify (rejectUnauthorized: false) gets 401, even with required: false', async () => {
      for (const required of [true, false]) {
        const r = await get(pki, await app({ required }), '/whoami', pki.stranger);
        expect(r).toEqual({ status: 401, body: { error: 'Login failed' } });
      }
    });

    it('revocation {}: a revoked certificate gets 401 "Certificate revoked or verification failed", a good one passes (CRL over HTTP)', async () => {
      const port = await app({ revocation: {} });
      const before = pki.crlRequests();
      expect(await get(pki, port, '/whoami', pki.bob)).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
      const ok = await get(pki, port, '/whoami', pki.alice);
      expect(ok.status).toBe(200);
      expect(ok.body.user.username).toBe('alice');
      expect(pki.crlRequests()).toBeGreaterThan(before);
    });

    it('revocation off (default): the revoked certificate is accepted, as in Harper', async () => {
      const r = await get(pki, await app({}), '/whoami', pki.bob);
      expect(r.status).toBe(200);
    });

    it('revocation with an unreachable CRL and fail-closed: refused; fail-open: accepted', async () => {
      const dead = async () => {
        throw new Error('connection refused');
      };
      expect((await get(pki, await app({ revocation: { ocsp: false }, fetch: dead }), '/whoami', pki.alice)).body).toEqual({ error: 'Certificate revoked or verification failed' });
      expect((await get(pki, await app({ revocation: { failureMode: 'fail-open', crl: { failureMode: 'fail-open' }, ocsp: false }, fetch: dead }), '/whoami', pki.alice)).status).toBe(200);
    });

    it('users: sync and async mapping, null is 401 Login failed', async () => {
      const roles: Record<string, string> = { alice: 'admin' };
      const sync = await app({ users: (u) => (roles[u] ? { username: u, role: roles[u]! } : null) });
      expect((await get(pki, sync, '/whoami', pki.alice)).body.user).toEqual({ username: 'alice', role: 'admin', authenticatedBy: 'mtls' });
      expect(await get(pki, sync, '/whoami', pki.carol)).toEqual({ status: 401, body: { error: 'Login failed' } });
      const asyncApp = await app({ users: async (u) => (u === 'carol' ? { username: 'carol@example', role: null } : null) });
      expect((await get(pki, asyncApp, '/whoami', pki.carol)).body.user).toEqual({ username: 'carol@example', role: null, authenticatedBy: 'mtls' });
      expect((await get(pki, asyncApp, '/whoami', pki.alice)).status).toBe(401);
    });

    it('user: a fixed username, or null (a verified certificate without a user)', async () => {
      expect((await get(pki, await app({ user: 'service' }), '/whoami', pki.alice)).body.user).toEqual({ username: 'service', role: null, authenticatedBy: 'mtls' });
      const r = await get(pki, await app({ user: null }), '/whoami', pki.alice);
      expect(r.status).toBe(200);
      expect(r.body.user).toBeNull();
      expect(r.body.clientCertificate.subject).toBe('CN=alice');
    });

    it('a resumed TLS session (only the leaf is kept) and keep-alive requests on one connection are still the same user', async () => {
      const port = await app({ revocation: {} });
      const agent = new Agent({ keepAlive: false, maxCachedSessions: 10 });
      const first = await get(pki, port, '/whoami', pki.alice, {}, agent);
      const second = await get(pki, port, '/whoami', pki.alice, {}, agent);
      expect([first.status, first.reused, second.status, second.reused]).toEqual([200, false, 200, true]);
      expect(second.body.user.username).toBe('alice');
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
      const replies = [];
      for (let i = 0; i < 3; i++) replies.push(await get(pki, port, '/whoami', pki.bob, {}, keepAlive));
      keepAlive.destroy();
      expect(replies.map((r) => r.status)).toEqual([401, 401, 401]);
    });

    it('keep-alive: a certificate revoked later (past crl.cacheTtl) or past its notAfter gets 401 on the same open connection; a fail-closed 401 recovers', async () => {
      const REJECTED = 'Certificate revoked or verification failed';
      /** An app on its own clock whose CRL downloads answer per `crl`: the real ones, a failure, or this CRL for the intermediate. */
      const clocked = async (revocation: boolean) => {
        const state = { t: Date.now(), crl: 'real' as 'real' | 'down' | Uint8Array };
        const fetch: FetchLike = async (url, init) => {
          if (state.crl === 'down') throw new Error('connection refused');
          if (state.crl !== 'real' && url.endsWith('/inter.crl')) return new Response(Buffer.from(state.crl), { status: 200, headers: { 'content-type': 'application/pkix-crl' } });
          return globalThis.fetch(url, init as RequestInit);
        };
        const port = await app({ ...(revocation ? { revocation: { ocsp: false, crl: { cacheTtl: 60_000 } } } : {}), now: () => new Date(state.t), fetch });
        return { state, port };
      };
      /** Before each request on one keep-alive connection, runs its step; the answers (200 or the error). */
      const onOneConnection = async (port: number, steps: Array<() => unknown>) => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        const replies = [];
        try {
          for (const step of steps) {
            step();
            replies.push(await get(pki, port, '/whoami', pki.alice, {}, agent));
          }
        } finally {
          agent.destroy();
        }
        expect(new Set(replies.map((r) => r.localPort)).size).toBe(1);
        return replies.map((r) => (r.status === 200 ? 200 : `${r.status} ${r.body.error}`));
      };
      const revoked = await createCrl({ ca: pki.inter, crlNumber: 2, revoked: [{ serialHex: pki.alice.serialHex, revokedAt: new Date(), reason: 'keyCompromise' }], nextUpdate: new Date(Date.now() + 86_400_000) });
      const a = await clocked(true);
      expect(
        await onOneConnection(a.port, [
          () => {},
          () => (a.state.crl = revoked), // the CA publishes a CRL listing alice: the cached CRL still holds
          () => (a.state.t += 120_000), // past crl.cacheTtl: the connection is checked again
          () => {},
        ]),
      ).toEqual([200, 200, `401 ${REJECTED}`, `401 ${REJECTED}`]);
      const b = await clocked(true);
      b.state.crl = 'down';
      expect(await onOneConnection(b.port, [() => {}, () => ((b.state.crl = 'real'), (b.state.t += 120_000))])).toEqual([`401 ${REJECTED}`, 200]);
      // No revocation checking: no re-check interval, only the chain's dates.
      const c = await clocked(false);
      const notAfter = new Date(new X509Certificate(pki.alice.certificatePem).validTo).getTime();
      expect(await onOneConnection(c.port, [() => {}, () => (c.state.t = notAfter + 1000)])).toEqual([200, '401 Login failed']);
    });

    it('forwardedCertificate: the header from a peer outside trustedProxies never reaches the app; from a trusted proxy it is verified like a handshake certificate', async () => {
      const untrusted = await app({ forwardedCertificate: { format: 'pem-urlencoded' }, trustedProxies: ['10.0.0.0/8'] });
      const r = await get(pki, untrusted, '/whoami', pki.alice, { 'x-ssl-client-cert': 'forged' });
      expect(r.status).toBe(200);
      expect(r.body.header).toBeUndefined();
      const trusted = await app({ forwardedCertificate: { format: 'pem-urlencoded' }, trustedProxies: ['127.0.0.1'], revocation: {} });
      expect(await get(pki, trusted, '/whoami', pki.alice, { 'x-ssl-client-cert': 'anything' })).toEqual({ status: 401, body: { error: 'Login failed' } });
      const fwd = (c: { certificatePem: string }) => encodeURIComponent(c.certificatePem + pki.inter.certificatePem);
      // The proxy's own connection certificate (alice) is not the user: the forwarded one (carol) is.
      const carol = await get(pki, trusted, '/whoami', pki.alice, { 'x-ssl-client-cert': fwd(pki.carol) });
      expect(carol.status).toBe(200);
      expect(carol.body.user).toEqual({ username: 'carol', role: null, authenticatedBy: 'mtls' });
      expect(carol.body.clientCertificate.subject).toBe('CN=carol');
      // bob is on the intermediate's CRL: the same revocation decision as over TLS.
      expect(await get(pki, trusted, '/whoami', pki.alice, { 'x-ssl-client-cert': fwd(pki.bob) })).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
      expect((await get(pki, trusted, '/whoami', pki.alice, { 'x-ssl-client-cert': encodeURIComponent(pki.stranger.certificatePem) })).status).toBe(401);
    });
  });
}
