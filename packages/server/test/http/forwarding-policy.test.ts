import { afterAll, describe, expect, it } from 'vitest';
import http, { type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { compileTrustedProxies } from '@harper-tls/mtls-auth';
import { applyForwardingPolicy, cameThroughProxy, installForwardingPolicy } from '../../src/http/forwarding-policy.js';
import { clientAddress, clientAddressInfo } from '../../src/http/client-address.js';
import { installProxyProtocol } from '../../src/http/proxy-protocol/accept.js';
import { isLocalRequest } from '../../src/http/authorize-local.js';

const servers: http.Server[] = [];
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

/** A real HTTP server with the policy installed; each request answers what the server saw after applyForwardingPolicy. */
async function serve(trusted: string[], opts: { proxyProtocol?: boolean; header?: string } = {}) {
  const counted: string[][] = [];
  const server = http.createServer((req, res) => {
    const info = applyForwardingPolicy(req);
    const again = applyForwardingPolicy(req);
    res.end(JSON.stringify({ info, same: info === again, client: clientAddress(req), headers: req.headers, raw: req.rawHeaders, proxied: cameThroughProxy(req), local: isLocalRequest(req, { viaSocket: false }) }));
  });
  server.on('upgrade', (req: IncomingMessage, socket) => {
    applyForwardingPolicy(req);
    socket.end(`HTTP/1.1 400 Bad Request\r\nx-seen: ${JSON.stringify({ headers: req.headers, client: clientAddressInfo(req).clientAddress })}\r\ncontent-length: 0\r\n\r\n`);
  });
  installForwardingPolicy(server, { proxies: compileTrustedProxies(trusted), certificateHeader: opts.header, onUntrusted: (_req, removed) => counted.push(removed) });
  if (opts.proxyProtocol) installProxyProtocol(server, { proxies: compileTrustedProxies(trusted) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  const port = (server.address() as AddressInfo).port;
  /** One raw HTTP/1.1 request (headers exactly as given, duplicates kept) from `from`. */
  const ask = (headers: Array<[string, string]>, from = '127.0.0.1', prefix: string | Buffer = ''): Promise<any> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: from }, () => {
        s.write(Buffer.concat([Buffer.from(prefix as never), Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)]));
      });
      let b = '';
      s.on('data', (c) => (b += c));
      s.on('end', () => resolve(b.includes('x-seen') ? JSON.parse(/x-seen: (.*)\r\n/.exec(b)![1]!) : JSON.parse(b.slice(b.indexOf('\r\n\r\n') + 4))));
      s.on('error', reject);
    });
  return { ask, counted };
}

describe('applyForwardingPolicy', () => {
  it('from an untrusted peer: the forwarded certificate header, X-Forwarded-*, Forwarded and X-Real-IP go (in headers and rawHeaders), counted once, whatever their case or count', async () => {
    const { ask, counted } = await serve(['10.0.0.0/8'], { header: 'x-my-cert' });
    const r = await ask([['X-Forwarded-For', '1.2.3.4'], ['x-forwarded-for', '5.6.7.8'], ['X-SSL-Client-Cert', 'x'], ['X-My-Cert', 'y'], ['Forwarded', 'for=1.2.3.4'], ['X-Real-IP', '1.2.3.4'], ['X-Amzn-Mtls-Clientcert', 'z'], ['X-Forwarded-Client-Cert', 'Cert=x'], ['X-Other', 'kept']]);
    expect(Object.keys(r.headers).sort()).toEqual(['connection', 'host', 'x-other']);
    expect(r.raw).toEqual(['Host', 'x', 'Connection', 'close', 'X-Other', 'kept']);
    expect(r.same).toBe(true);
    expect(counted).toHaveLength(1);
    expect(r.client).toBe('127.0.0.1');
    expect(r.info).toMatchObject({ peer: '127.0.0.1', peerTrusted: false, headersTrusted: false, carriedForwardedAddress: true });
    // Removed, but remembered: a request that carried a forwarded address is never local.
    expect([r.proxied, r.local]).toEqual([true, false]);
    const plain = await ask([]);
    expect([plain.proxied, plain.local, counted.length]).toEqual([false, true, 1]);
  });

  it('from an untrusted peer: `_` spellings (X_Real_IP, Client_Cert, X_Forwarded_Port, the configured header) go too, counted once', async () => {
    const { ask, counted } = await serve(['10.0.0.0/8'], { header: 'x-my-cert' });
    const r = await ask([['X_SSL_Client_Cert', 'a'], ['X_Real_IP', '1.2.3.4'], ['X_Amzn_Mtls_Clientcert', 'b'], ['Client_Cert', 'c'], ['X_Forwarded_Port', '443'], ['X_Forwarded_User', 'admin'], ['x_my_cert', 'd'], ['X-Other', 'kept']]);
    expect(Object.keys(r.headers).sort()).toEqual(['connection', 'host', 'x-other']);
    expect(r.raw).toEqual(['Host', 'x', 'Connection', 'close', 'X-Other', 'kept']);
    expect(counted).toEqual([['x_ssl_client_cert', 'x_real_ip', 'x_amzn_mtls_clientcert', 'client_cert', 'x_forwarded_port', 'x_forwarded_user', 'x_my_cert']]);
  });

  it('from a trusted proxy: kept; the client is the rightmost X-Forwarded-For address that is not a trusted proxy', async () => {
    const { ask, counted } = await serve(['127.0.0.1', '10.0.0.0/8', '2001:db8::/32']);
    const xff = async (v: string) => (await ask([['X-Forwarded-For', v]])).client;
    expect(await xff('203.0.113.9')).toBe('203.0.113.9');
    expect(await xff('6.6.6.6, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
    expect(await xff('203.0.113.9, 2001:db8::7')).toBe('203.0.113.9');
    expect(await xff('[2001:db8::7]:443, 198.51.100.1:5555')).toBe('198.51.100.1');
    expect(await xff('::ffff:198.51.100.2')).toBe('198.51.100.2');
    expect(await xff('10.0.0.1, 10.0.0.2')).toBe('10.0.0.1'); // only proxies: the farthest one
    expect(await xff('203.0.113.9, not-an-ip, 10.0.0.5')).toBe('10.0.0.5'); // garbage stops the walk
    expect(await xff('unknown')).toBe('127.0.0.1');
    const r = await ask([['X-Forwarded-For', '6.6.6.6'], ['x-forwarded-for', '203.0.113.9']]);
    expect(r.client).toBe('203.0.113.9');
    expect(r.headers['x-forwarded-for']).toBe('6.6.6.6, 203.0.113.9');
    expect(counted).toEqual([]);
    expect([r.proxied, r.local]).toEqual([true, false]);
  });

  it('WebSocket upgrades get the same policy', async () => {
    const { ask, counted } = await serve(['10.0.0.0/8']);
    const r = await ask([['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['X-Forwarded-For', '1.2.3.4'], ['X-Forwarded-User', 'admin']]);
    expect(r.headers['x-forwarded-for']).toBeUndefined();
    expect(r.headers['x-forwarded-user']).toBeUndefined();
    expect(r.client).toBe('127.0.0.1');
    expect(counted).toHaveLength(1);
  });

  it('PROXY protocol: the header names the client; its forwarded headers are believed only when that client is itself a trusted proxy', async () => {
    const { ask, counted } = await serve(['127.0.0.1', '10.0.0.0/8'], { proxyProtocol: true });
    const viaNamed = await ask([['X-Forwarded-For', '6.6.6.6']], '127.0.0.1', 'PROXY TCP4 198.51.100.4 127.0.0.1 5555 80\r\n');
    expect(viaNamed.client).toBe('198.51.100.4');
    expect(viaNamed.headers['x-forwarded-for']).toBeUndefined();
    expect(viaNamed.info).toMatchObject({ peer: '127.0.0.1', peerTrusted: true, headersTrusted: false });
    expect([viaNamed.proxied, viaNamed.local]).toEqual([true, false]);
    expect(counted).toHaveLength(1);
    const chained = await ask([['X-Forwarded-For', '203.0.113.50']], '127.0.0.1', 'PROXY TCP4 10.0.0.9 127.0.0.1 5555 80\r\n');
    expect(chained.client).toBe('203.0.113.50');
    const local = await ask([], '127.0.0.1', 'PROXY UNKNOWN\r\n');
    expect(local.client).toBe('127.0.0.1');
    expect(local.local).toBe(false);
  });

  it('PROXY protocol naming no client (v1 UNKNOWN, v2 PROXY with UNSPEC or UNIX addresses): the headers are an unknown client\'s, removed; v2 LOCAL keeps the proxy\'s trust', async () => {
    const { ask, counted } = await serve(['127.0.0.1'], { proxyProtocol: true, header: 'x-ssl-client-cert' });
    const v2 = (verCmd: number, fam: number, body = Buffer.alloc(0)) => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(body.length);
      return Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, verCmd, fam]), len, body]);
    };
    const forged: Array<[string, string]> = [['X-SSL-Client-Cert', 'pem'], ['X-Forwarded-For', '203.0.113.5']];
    for (const [what, prefix] of [['v1 UNKNOWN', 'PROXY UNKNOWN\r\n'], ['v1 UNKNOWN with addresses', 'PROXY UNKNOWN ::1 ::1 1 2\r\n'], ['v2 PROXY UNSPEC', v2(0x21, 0x00)], ['v2 PROXY UNIX', v2(0x21, 0x31, Buffer.alloc(216))]] as const) {
      const before = counted.length;
      const r = await ask(forged, '127.0.0.1', prefix);
      expect([what, r.headers['x-ssl-client-cert'], r.headers['x-forwarded-for'], r.info.headersTrusted, r.client]).toEqual([what, undefined, undefined, false, '127.0.0.1']);
      expect(counted.length).toBe(before + 1);
    }
    const health = await ask(forged, '127.0.0.1', v2(0x20, 0x00));
    expect(health.info.headersTrusted).toBe(true);
    expect(health.headers['x-ssl-client-cert']).toBe('pem');
  });
});
