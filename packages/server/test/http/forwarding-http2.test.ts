import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { compileTrustedProxies } from '@harper-tls/mtls-auth';
import { applyForwardingPolicy, installForwardingPolicy } from '../../src/http/forwarding-policy.js';
import { clientAddress } from '../../src/http/client-address.js';
import { installProxyProtocol } from '../../src/http/proxy-protocol/accept.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';

/**
 * `http.http2` listeners (Http2SecureServer, h2 by ALPN) behind a TCP-mode proxy: the PROXY
 * header comes before the TLS handshake, the HTTP/2 compat request finds the policy and the PROXY
 * address through the session's socket, and the client's own forwarded headers are removed.
 */
describe('PROXY protocol and the forwarding policy on an HTTP/2 listener', () => {
  let pki: TestPki;
  let server: http2.Http2SecureServer;
  let port: number;
  const removed: string[][] = [];
  beforeAll(async () => {
    pki = createTestPki();
    pki.ca('ca');
    pki.leaf('server', 'ca', { cn: 'localhost', sans: 'DNS:localhost,IP:127.0.0.1' });
    server = http2.createSecureServer({ key: pki.read('server.key'), cert: pki.read('server.pem'), allowHTTP1: true }, (req, res) => {
      applyForwardingPolicy(req as never);
      res.end(JSON.stringify({ client: clientAddress(req as never), xff: req.headers['x-forwarded-for'] ?? null, version: req.httpVersion }));
    });
    const proxies = compileTrustedProxies(['127.0.0.1']);
    installForwardingPolicy(server, { proxies, onUntrusted: (_r, list) => removed.push(list) });
    installProxyProtocol(server, { proxies });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    pki.cleanup();
  });

  it('h2 after a PROXY v2 header: the header names the client; the client\'s X-Forwarded-For is removed and counted', async () => {
    const raw = tcpConnect(port, '127.0.0.1');
    await new Promise<void>((r) => raw.once('connect', () => r()));
    const v2 = Buffer.from('0d0a0d0a000d0a515549540a2111000c', 'hex');
    raw.write(Buffer.concat([v2, Buffer.from([198, 51, 100, 23, 127, 0, 0, 1, 0x30, 0x39, 0x01, 0xbb])]));
    const session = http2.connect(`https://localhost:${port}`, { createConnection: () => tlsConnect({ socket: raw, servername: 'localhost', ca: pki.read('ca.pem'), ALPNProtocols: ['h2'] }) });
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/', 'x-forwarded-for': '6.6.6.6' });
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => resolve(b));
      req.on('error', reject);
      req.end();
    });
    session.close();
    expect(JSON.parse(body)).toEqual({ client: '198.51.100.23', xff: null, version: '2.0' });
    expect(removed).toEqual([['x-forwarded-for']]);
  });
});
