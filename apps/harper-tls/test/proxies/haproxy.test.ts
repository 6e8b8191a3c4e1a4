import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { curl, curlJson, DOCS, freePort, logLine, makeClients, metric, recipe, startHaproxy, startHarperTls, tempDir, type Clients, type Peer } from './harness.js';

type Name = 'alice' | 'bob' | 'carol' | 'expired' | 'foreign';
const asClient = (clients: Clients, name?: Name) => (name ? ['--cert', clients.cert(name).cert, '--key', clients.cert(name).key] : []);

describe('behind HAProxy terminating TLS (docs/proxies/haproxy-tls.cfg, der-base64)', () => {
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let haproxy: Peer;
  let clients: Clients;
  let port: number;
  const tmp = tempDir();

  beforeAll(async () => {
    harper = await startHarperTls((p) => [`port: ${p.http}`, `securePort: ${p.https}`, "trustedProxies: ['127.0.0.1']", 'mtls:', '  required: false', '  certificateVerification: true', '  forwardedCertificate: { format: der-base64 }']);
    clients = await makeClients(harper.root);
    port = await freePort();
    haproxy = await startHaproxy(tmp.dir, 'haproxy-tls.cfg', recipe('haproxy-tls.cfg', { LISTEN_PORT: port, HARPER_HTTP_PORT: harper.ports.http, SERVER_PEM: clients.serverPem, CLIENT_CA: clients.ca }), [port]);
  });
  afterAll(async () => {
    await haproxy?.stop();
    await harper?.stop();
    tmp.cleanup();
  });

  const via = (name?: Name, extra: string[] = []) => curlJson(['--cacert', clients.ca, ...asClient(clients, name), ...extra, `https://localhost:${port}/whoami`]);
  const direct = (name?: Name) => curlJson(['--interface', '127.0.0.2', '--cacert', clients.ca, ...asClient(clients, name), `https://localhost:${harper.ports.https}/whoami`]);

  it('good, revoked, expired, foreign-CA and missing certificates: the same answer as with TLS ending at harper-tls', async () => {
    expect(await via('alice')).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' } });
    expect(await via('bob')).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    expect(await via('expired')).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await via('foreign')).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await via()).toEqual({ status: 401, body: { error: 'Login failed' } });
    for (const name of ['alice', 'bob', 'expired', 'foreign', undefined] as const) expect(await via(name)).toEqual(await direct(name));
  });

  it('a certificate header the client sends through HAProxy is dropped; sent directly from 127.0.0.2 it is never believed', async () => {
    const forged = clients.cert('alice').pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
    expect(await via(undefined, ['-H', `X-SSL-Client-DER: ${forged}`])).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect((await via('carol', ['-H', `X-SSL-Client-DER: ${forged}`])).body.username).toBe('carol');
    const before = await metric(harper.ports.ops, /^harper_tls_forwarded_untrusted_total\{listener="http"\}/);
    expect(await curlJson(['--interface', '127.0.0.2', '-H', `X-SSL-Client-DER: ${forged}`, `http://127.0.0.1:${harper.ports.http}/whoami`])).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await metric(harper.ports.ops, /^harper_tls_forwarded_untrusted_total\{listener="http"\}/)).toBe(before + 1);
  });

  it('the client address is the rightmost X-Forwarded-For address that is not a trusted proxy', async () => {
    expect((await via('carol', ['--interface', '127.0.0.2', '-H', 'X-Forwarded-For: 198.51.100.9'])).status).toBe(200);
    expect(await logLine(harper.log, /"outcome":"success".*"user":"carol".*"remote":"127\.0\.0\.2"/)).toMatchObject({ peer: '127.0.0.1' });
  });

  it('docs/proxies/README.md shows this very file', () => {
    expect(readFileSync(join(DOCS, 'README.md'), 'utf8')).toContain(readFileSync(join(DOCS, 'haproxy-tls.cfg'), 'utf8').trim());
  });
});

/** A raw TCP client: what it receives, and when the server closes the connection (bounded). */
function rawConnection(port: number, localAddress = '127.0.0.1') {
  const socket: Socket = connect({ host: '127.0.0.1', port, localAddress });
  let received = Buffer.alloc(0);
  socket.on('data', (c) => (received = Buffer.concat([received, c])));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the server did not close the connection within 20 s')), 20_000);
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
  const connected = new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, closed, connected, received: () => received };
}

describe('behind HAProxy in TCP mode with PROXY protocol (docs/proxies/haproxy-tcp.cfg)', () => {
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let haproxy: Peer;
  let clients: Clients;
  let v1: number;
  let v2: number;
  const tmp = tempDir();

  beforeAll(async () => {
    harper = await startHarperTls((p) => [`port: ${p.http}`, `securePort: ${p.https}`, "trustedProxies: ['127.0.0.1']", 'proxyProtocol: true', 'mtls:', '  required: false', '  certificateVerification: true']);
    clients = await makeClients(harper.root);
    v1 = await freePort();
    v2 = await freePort();
    haproxy = await startHaproxy(tmp.dir, 'haproxy-tcp.cfg', recipe('haproxy-tcp.cfg', { LISTEN_PORT_V1: v1, LISTEN_PORT_V2: v2, HARPER_HTTPS_PORT: harper.ports.https }), [v1, v2]);
  });
  afterAll(async () => {
    await haproxy?.stop();
    await harper?.stop();
    tmp.cleanup();
  });

  const through = (p: number, name?: Name, extra: string[] = []) => curlJson(['--cacert', clients.ca, ...asClient(clients, name), ...extra, `https://localhost:${p}/whoami`]);

  it('PROXY v2 and v1: mTLS at harper-tls through the passthrough, good, revoked, expired, foreign-CA and missing certificates', async () => {
    for (const p of [v2, v1]) {
      expect(await through(p, 'alice')).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' } });
      expect(await through(p, 'bob')).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
      expect(await through(p, 'expired')).toEqual({ status: 401, body: { error: 'Login failed' } });
      expect(await through(p, 'foreign')).toEqual({ status: 401, body: { error: 'Login failed' } });
      expect(await through(p)).toEqual({ status: 401, body: { error: 'Login failed' } });
    }
  });

  it('the PROXY header\'s address is the client address in audit lines (v2 and v1); forwarded headers from that client are not believed', async () => {
    expect((await through(v2, 'carol', ['--interface', '127.0.0.2', '-H', 'X-Forwarded-For: 192.0.2.77'])).status).toBe(200);
    const line = await logLine(harper.log, /"outcome":"success".*"user":"carol".*"remote":"127\.0\.0\.2"/);
    expect(line).toMatchObject({ listener: 'https', peer: '127.0.0.1' });
    expect(harper.log()).not.toContain('192.0.2.77');
    const before = harper.log().split('\n').length;
    expect((await through(v1, 'carol', ['--interface', '127.0.0.3'])).status).toBe(200);
    expect(await logLine(() => harper.log().split('\n').slice(before - 1).join('\n'), /"user":"carol".*"remote":"127\.0\.0\.3"/)).toMatchObject({ peer: '127.0.0.1' });
  });

  it('from outside trustedProxies, without a PROXY header, with garbage, an oversized or a late header: that connection is closed and nothing is served; others are not affected', async () => {
    const refused = (reason: string) => metric(harper.ports.ops, new RegExp(`^harper_tls_proxy_protocol_refused_total\\{listener="https",reason="${reason}"\\}`));
    const [untrusted0, invalid0, timeout0] = [await refused('untrusted'), await refused('invalid'), await refused('timeout')];

    const outsider = rawConnection(harper.ports.https, '127.0.0.2');
    await outsider.connected;
    outsider.socket.write('PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n');
    await outsider.closed;
    // A TLS client straight to the port (its ClientHello is not a PROXY header).
    const direct = await curl(['--cacert', clients.ca, `https://localhost:${harper.ports.https}/whoami`]).catch((e: Error) => ({ status: 0, body: e.message }));
    expect(direct.status).toBe(0);
    const garbage = rawConnection(harper.ports.https);
    await garbage.connected;
    garbage.socket.write('GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n');
    await garbage.closed;
    const oversized = rawConnection(harper.ports.https);
    await oversized.connected;
    const v2big = Buffer.alloc(16);
    Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11]).copy(v2big);
    v2big.writeUInt16BE(0xffff, 14);
    oversized.socket.write(v2big);
    await oversized.closed;
    // A slow header: part of it, then nothing; while it hangs, HAProxy's clients are served.
    const slow = rawConnection(harper.ports.https);
    await slow.connected;
    slow.socket.write('PROXY TCP4 ');
    expect((await through(v2, 'alice')).status).toBe(200);
    await slow.closed;
    for (const c of [outsider, garbage, oversized, slow]) expect(c.received().length).toBe(0);
    expect(await refused('untrusted')).toBe(untrusted0 + 1);
    expect(await refused('invalid')).toBeGreaterThanOrEqual(invalid0 + 3);
    expect(await refused('timeout')).toBe(timeout0 + 1);
    expect((await through(v1, 'alice')).status).toBe(200);
  });

  it('docs/proxies/README.md shows this very file', () => {
    expect(readFileSync(join(DOCS, 'README.md'), 'utf8')).toContain(readFileSync(join(DOCS, 'haproxy-tcp.cfg'), 'utf8').trim());
  });
});
