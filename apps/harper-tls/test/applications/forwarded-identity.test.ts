import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curlJson, makeClients, metric, startHarperTls, type Clients } from '../proxies/harness.js';
import { dechunk, rawTls, startEchoUpstream, values, type Seen } from './harness.js';

/**
 * SPEC.md sections 6 and 7 together: the identity user code gets (upstream headers, module
 * `clientCertificate`) when a trusted proxy (127.0.0.1) forwards the client's certificate in
 * `x-ssl-client-cert` (pem-urlencoded), over TLS with the proxy's own client certificate (carol's)
 * and over plain HTTP; and what an untrusted client (127.0.0.2) can smuggle with `_` spellings.
 */
describe('applications: the forwarded certificate is the identity; forwarding headers in any spelling', () => {
  const modules = mkdtempSync(join(tmpdir(), 'harper-tls-modules-'));
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let clients: Clients;
  let upstream: http.Server;

  beforeAll(async () => {
    const echo = await startEchoUpstream();
    upstream = echo.server;
    const up = echo.origin;
    writeFileSync(join(modules, 'listener.mjs'), 'export default (req, res) => { res.setHeader("content-type", "application/json"); res.end(JSON.stringify({ user: req.user, cert: req.clientCertificate, rawHeaders: req.rawHeaders, headers: req.headers })); };\n');
    writeFileSync(join(modules, 'fetch.mjs'), 'export async function fetch(request, context) { return Response.json({ cert: context.clientCertificate, headers: [...request.headers.keys()] }); }\n');
    const entry = (o: Record<string, unknown>) => `  - ${JSON.stringify(o)}`;
    harper = await startHarperTls(
      (p) => [`port: ${p.http}`, `securePort: ${p.https}`, "trustedProxies: ['127.0.0.1']", 'mtls:', '  required: false', '  certificateVerification: true', '  forwardedCertificate: { format: pem-urlencoded }'],
      [
        'applications:',
        entry({ path: '/api', upstream: up }),
        entry({ path: '/opt', upstream: up, auth: 'optional' }),
        entry({ path: '/open', upstream: up, auth: 'none' }),
        entry({ path: '/mod', module: join(modules, 'listener.mjs') }),
        entry({ path: '/fetch', module: join(modules, 'fetch.mjs') }),
      ],
    );
    clients = await makeClients(harper.root);
  });
  afterAll(async () => {
    await harper?.stop();
    await new Promise((r) => upstream?.close(r));
    rmSync(modules, { recursive: true, force: true });
  });

  const forwarded = (name: 'alice' | 'bob' | 'carol') => `X-SSL-Client-Cert: ${encodeURIComponent(clients.cert(name).pem)}`;
  const hashOf = (name: 'alice' | 'carol') => new X509Certificate(clients.cert(name).pem).fingerprint256.replaceAll(':', '').toLowerCase();
  /** The trusted proxy over TLS, presenting its own client certificate (carol's). */
  const viaTlsProxy = async (path: string, headers: string[]) => {
    const r = await rawTls(harper.ports.https, clients.dir, 'carol', `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`);
    return { status: r.status, body: JSON.parse(r.body) };
  };
  /** The trusted proxy (or, `from` 127.0.0.2, an untrusted client) over plain HTTP. */
  const viaHttp = (path: string, headers: string[], from = '127.0.0.1') => curlJson(['--interface', from, ...headers.flatMap((h) => ['-H', h]), `http://127.0.0.1:${harper.ports.http}${path}`]);

  it('upstreams get X-Forwarded-Client-Cert of the forwarded certificate (alice), not the proxy\'s own; the certificate header itself never', async () => {
    for (const r of [await viaTlsProxy('/api/x', [forwarded('alice')]), await viaHttp('/api/x', [forwarded('alice')])]) {
      expect(r.status).toBe(200);
      const raw = (r.body as Seen).rawHeaders;
      expect(values(raw, 'x-forwarded-user')).toEqual(['alice']);
      expect(values(raw, 'x-forwarded-client-cert')).toEqual([`Hash=${hashOf('alice')};Subject="CN=alice"`]);
      expect(values(raw, 'x-ssl-client-cert')).toEqual([]);
    }
  });

  it('modules get clientCertificate = the forwarded certificate (listener and fetch), without the certificate header', async () => {
    const alice = new X509Certificate(clients.cert('alice').pem).fingerprint256;
    for (const r of [await viaTlsProxy('/mod/x', [forwarded('alice')]), await viaHttp('/mod/x', [forwarded('alice')])]) {
      expect(r.status).toBe(200);
      expect(r.body.user).toEqual({ username: 'alice', role: 'reader', authenticatedBy: 'mtls' });
      expect(r.body.cert).toMatchObject({ subject: 'CN=alice', fingerprint256: alice });
      expect(values(r.body.rawHeaders, 'x-ssl-client-cert')).toEqual([]);
      expect(r.body.headers['x-ssl-client-cert']).toBeUndefined();
    }
    const f = await viaTlsProxy('/fetch/x', [forwarded('alice')]);
    expect(f.body.cert).toMatchObject({ subject: 'CN=alice', fingerprint256: alice });
    expect(f.body.headers).not.toContain('x-ssl-client-cert');
  });

  it('auth: none through the trusted proxy: the certificate header (any spelling) is not passed on either', async () => {
    const pem = encodeURIComponent(clients.cert('alice').pem);
    const r = await viaHttp('/open/x', [forwarded('alice'), `X_SSL_Client_Cert: ${pem}`]);
    expect(r.status).toBe(200);
    expect(values((r.body as Seen).rawHeaders, 'x-ssl-client-cert')).toEqual([]);
    expect(values((r.body as Seen).rawHeaders, 'x-forwarded-client-cert')).toEqual([]);
  });

  it('auth: optional: a revoked or undecodable forwarded certificate is refused; the proxy\'s own TLS certificate is no credential', async () => {
    expect(await viaHttp('/opt/x', [forwarded('bob')])).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    expect(await viaTlsProxy('/opt/x', [forwarded('bob')])).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    expect(await viaHttp('/opt/x', ['X-SSL-Client-Cert: %ZZ'])).toEqual({ status: 400, body: { error: 'The forwarded client certificate header cannot be decoded' } });
    const anon = await viaTlsProxy('/opt/x', []);
    expect(anon.status).toBe(200);
    expect(values((anon.body as Seen).rawHeaders, 'x-forwarded-user')).toEqual([]);
    expect(values((anon.body as Seen).rawHeaders, 'x-forwarded-client-cert')).toEqual([]);
    expect((await viaHttp('/opt/x', ['X-SSL-Client-Cert:'])).status).toBe(200); // an empty header: no certificate (nginx, HAProxy)
  });

  it('from an untrusted client, `_` spellings of forwarding and certificate headers reach neither upstream nor module, and are counted', async () => {
    const smuggled = ['X_SSL_Client_Cert: x', 'X_Real_IP: 6.6.6.6', 'X_Amzn_Mtls_Clientcert: x', 'Client_Cert: x', 'X_Forwarded_Port: 6666', 'X_Forwarded_User: admin', 'X_Forwarded_For: 6.6.6.6'];
    const names = ['x-ssl-client-cert', 'x-real-ip', 'x-amzn-mtls-clientcert', 'client-cert', 'x-forwarded-port'];
    const counter = /^harper_tls_forwarded_untrusted_total\{listener="http"\}/;
    const before = await metric(harper.ports.ops, counter);
    for (const path of ['/open/x', '/api/x', '/mod/x']) {
      const r = await viaHttp(path, [...smuggled, ...(path === '/open/x' ? [] : ['Authorization: Basic YWxpY2U6YWxpY2UtcHc='])], '127.0.0.2');
      expect([path, r.status]).toEqual([path, 200]);
      for (const n of names) expect([path, n, values(r.body.rawHeaders, n)]).toEqual([path, n, []]);
      expect(JSON.stringify(r.body.rawHeaders)).not.toMatch(/6\.6\.6\.6|6666|admin/);
      if (path !== '/open/x') expect(values(r.body.rawHeaders, 'x-forwarded-user')).toEqual(['alice']);
    }
    expect(await metric(harper.ports.ops, counter)).toBe(before + 3);
  });
});

/** A raw HTTP/1.1 request on a plain TCP connection, after `prefix` (a PROXY header); resolves with status and parsed body. */
function rawHttp(port: number, prefix: Buffer, request: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write(Buffer.concat([prefix, Buffer.from(request)])));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(new Error('raw request timed out')), 15_000);
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e) => (clearTimeout(timer), reject(e)));
    s.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      let body = text.slice(text.indexOf('\r\n\r\n') + 4);
      if (/transfer-encoding: chunked/i.test(head)) body = dechunk(body);
      let parsed: unknown = body;
      try {
        parsed = JSON.parse(body);
      } catch {}
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), body: parsed });
    });
  });
}

describe('PROXY protocol naming no client (v1 UNKNOWN, v2 PROXY with UNSPEC or UNIX): the client\'s own headers are not believed', () => {
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let clients: Clients;
  let upstream: http.Server;

  beforeAll(async () => {
    const echo = await startEchoUpstream();
    upstream = echo.server;
    const up = echo.origin;
    harper = await startHarperTls(
      (p) => [`port: ${p.http}`, "trustedProxies: ['127.0.0.1']", 'proxyProtocol: true', 'mtls:', '  required: false', '  certificateVerification: true', '  forwardedCertificate: { format: pem-urlencoded }'],
      ['applications:', `  - ${JSON.stringify({ path: '/open', upstream: up, auth: 'none' })}`],
    );
    clients = await makeClients(harper.root);
  });
  afterAll(async () => {
    await harper?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  const v2 = (verCmd: number, fam: number, body = Buffer.alloc(0)) => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(body.length);
    return Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, verCmd, fam]), len, body]);
  };
  const headers = () => `X-SSL-Client-Cert: ${encodeURIComponent(clients.cert('alice').pem)}\r\nX-Real-IP: 203.0.113.5\r\n`;

  it('a forwarded certificate behind such a header authenticates nobody (401), and forwarding headers are removed', async () => {
    const cases = [['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN\r\n')], ['v2 PROXY UNSPEC', v2(0x21, 0x00)], ['v2 PROXY UNIX', v2(0x21, 0x31, Buffer.alloc(216))]] as const;
    for (const [what, prefix] of cases) {
      const who = await rawHttp(harper.ports.http, prefix, `GET /whoami HTTP/1.1\r\nHost: x\r\n${headers()}Connection: close\r\n\r\n`);
      expect([what, who]).toEqual([what, { status: 401, body: { error: 'Login failed' } }]);
      const seen = await rawHttp(harper.ports.http, prefix, `GET /open/x HTTP/1.1\r\nHost: x\r\n${headers()}Connection: close\r\n\r\n`);
      expect([what, seen.status, values(seen.body.rawHeaders, 'x-real-ip'), values(seen.body.rawHeaders, 'x-ssl-client-cert')]).toEqual([what, 200, [], []]);
    }
    // v2 LOCAL (the balancer's own connection) keeps the balancer's trust.
    const local = await rawHttp(harper.ports.http, v2(0x20, 0x00), `GET /whoami HTTP/1.1\r\nHost: x\r\n${headers()}Connection: close\r\n\r\n`);
    expect(local).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' } });
  });
});
