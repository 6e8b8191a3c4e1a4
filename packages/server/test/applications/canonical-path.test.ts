import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appServer, echoUpstream, moduleDir, moduleEntry, request, upstreamEntry } from '../helpers/apps.js';
import { createCA, createLocalCa, createMemoryLocalCaStore, createOcspHttpHandler } from '@harper-tls/cert-gen';
import { buildOcspRequest, certIdFor, ocspGetUrl, parseCertificate, parseOcspResponse } from '@harper-tls/revocation';
import { canonicalPath } from '../../src/http/canonical-path.js';
import { localCaRoute } from '../../src/routes/local-ca.js';

/** One request with the target exactly as given (Node's client does not normalize it). */
const raw = async (port: number, path: string, headers: Record<string, string> = {}) => {
  const r = await request(port, { path, headers });
  return { status: r.status, body: r.body };
};

describe('canonicalPath', () => {
  it('decodes unreserved escapes, upper-cases the others, resolves dot segments', () => {
    expect(canonicalPath('/%61dmin/users?x=%61')).toEqual({ ok: true, pathname: '/admin/users', encodedSeparator: false });
    expect(canonicalPath('/a/%2e%2E/admin')).toEqual({ ok: true, pathname: '/admin', encodedSeparator: false });
    expect(canonicalPath('/%7euser/%3a%3A')).toEqual({ ok: true, pathname: '/~user/%3A%3A', encodedSeparator: false });
    expect(canonicalPath('/plain/path')).toEqual({ ok: true, pathname: '/plain/path', encodedSeparator: false });
  });
  it('refuses an encoded NUL and a stray %', () => {
    for (const p of ['/a%00', '/a%zz', '/a%']) expect(canonicalPath(p).ok).toBe(false);
  });
  it('keeps an encoded / or \\ as it is (upper-cased) and flags it: the server\'s own paths take it, applications refuse it', () => {
    expect(canonicalPath('/admin%2fusers')).toEqual({ ok: true, pathname: '/admin%2Fusers', encodedSeparator: true });
    expect(canonicalPath('/a%5Cb')).toEqual({ ok: true, pathname: '/a%5Cb', encodedSeparator: true });
    // An OCSP GET (RFC 6960 appendix A.1): URL-encoded base64, `/` `+` `=` included.
    expect(canonicalPath('/ca/ocsp/MEow%2FSDBGMEQw%2B%3D')).toEqual({ ok: true, pathname: '/ca/ocsp/MEow%2FSDBGMEQw%2B%3D', encodedSeparator: true });
  });
});

describe('entries are matched on the canonical path, which is also what is forwarded', () => {
  const files = moduleDir();
  let up: Awaited<ReturnType<typeof echoUpstream>>;
  let app: Awaited<ReturnType<typeof appServer>>;
  const admin = { authorization: 'let-me-in' };

  beforeAll(async () => {
    up = await echoUpstream();
    const mod = files.write('echo.mjs', 'export function fetch(request) { return Response.json({ url: new URL(request.url).pathname }); }\n');
    app = await appServer([
      upstreamEntry('/', up.origin, { auth: 'none' }),
      upstreamEntry('/admin', up.origin, { roles: ['super_user'] }),
      moduleEntry('/mod', mod),
    ]);
  });
  afterAll(async () => {
    await app.close();
    await up.close();
    files.cleanup();
  });

  it('an escaped letter does not skip /admin: 401, and with credentials the upstream sees /admin/users', async () => {
    expect(await raw(app.port, '/%61dmin/users')).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await raw(app.port, '/%61%64min/users?q=1')).toMatchObject({ status: 401 });
    expect(await raw(app.port, '/x/%2e%2e/admin/users')).toMatchObject({ status: 401 });
    const r = await raw(app.port, '/%61dmin/users?q=%61', admin);
    expect(r.status).toBe(200);
    expect(r.body.url).toBe('/admin/users?q=%61');
  });

  it('Java-style ;parameters do not skip /admin', async () => {
    expect(await raw(app.port, '/admin;jsessionid=1/users')).toMatchObject({ status: 401 });
    expect(await raw(app.port, '/admin;x')).toMatchObject({ status: 401 });
    expect((await raw(app.port, '/admin;x/users', admin)).body.url).toBe('/admin;x/users');
  });

  it('an encoded / \\ or NUL is a 400, never forwarded', async () => {
    for (const p of ['/admin%2Fusers', '/admin%2fusers', '/x%5C..%5Cadmin', '/a%00b', '/a%zz']) {
      const r = await raw(app.port, p);
      expect(r.status, p).toBe(400);
      expect(r.body.error).toEqual(expect.any(String));
    }
  });

  it('other escapes reach the upstream upper-cased; matching stays case-sensitive', async () => {
    expect((await raw(app.port, '/open/%3a%7e')).body.url).toBe('/open/%3A~');
    expect((await request(app.port, { path: '/ADMIN/users' })).body.url).toBe('/ADMIN/users');
  });

  it('module applications likewise', async () => {
    expect(await raw(app.port, '/%6Dod/x')).toMatchObject({ status: 401 });
    expect((await raw(app.port, '/%6Dod/x', admin)).body).toEqual({ url: '/mod/x' });
    expect((await raw(app.port, '/mod%2Fx', admin)).status).toBe(400);
    expect(app.errors()).toEqual([]);
  });
});

describe("the server's own paths take an encoded /: the local CA's OCSP GET (RFC 6960 appendix A.1) beside applications", () => {
  it('GET /ca/ocsp/<url-encoded base64 with %2F> is answered by the responder; the same escape for an application is a 400', async () => {
    const root = await createCA({ commonName: 'Canonical Path CA' });
    const localCa = createLocalCa({ ca: root, store: createMemoryLocalCaStore() });
    const alice = await localCa.issue({ cn: 'alice' });
    const up = await echoUpstream();
    const app = await appServer([upstreamEntry('/', up.origin, { auth: 'none' })], {
      server: { appRoutes: [localCaRoute({ crl: () => localCa.crl(), ocspHttpHandler: createOcspHttpHandler(localCa.ocspResponder) })] },
    });
    try {
      const id = certIdFor(parseCertificate(alice.certificatePem), parseCertificate(root.certificatePem));
      // The nonce is random: a request whose base64 holds a "/" comes within a few tries (bounded).
      let url: string | undefined;
      for (let i = 0; i < 200 && !url?.includes('%2F'); i++) url = ocspGetUrl(`http://127.0.0.1:${app.port}/ca/ocsp`, buildOcspRequest(id).der);
      expect(url).toContain('%2F');
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/ocsp-response');
      expect(parseOcspResponse(new Uint8Array(await res.arrayBuffer())).statusName).toBe('successful');
      expect((await raw(app.port, '/x%2Fy')).status).toBe(400);
      expect(app.errors()).toEqual([]);
    } finally {
      await app.close();
      await up.close();
    }
  });
});
