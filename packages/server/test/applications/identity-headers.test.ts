import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseXfcc } from '@harper-tls/mtls-auth';
import { describeClientCertificate } from '../../src/applications/identity.js';
import { forwardHeaders, headersObject, requestHost, responseHeaders, rfc4514, xfccValue, type ForwardOptions } from '../../src/applications/identity-headers.js';

const base: ForwardOptions = {
  identity: { user: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' }, certificate: null },
  identityHeaders: { certificate: false },
  dropAuthorization: true,
  clientAddress: '::ffff:192.0.2.7',
  forwardedFor: [],
  proto: 'https',
  host: 'app.example:9927',
};

const names = (flat: string[]) => flat.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

describe('forwardHeaders', () => {
  it('removes every spoofable copy, any case, underscores, empty, then sets exactly one of each', () => {
    const inbound = [
      'X-Forwarded-User', 'admin', 'x-forwarded-user', '', 'X_FORWARDED_USER', 'root', 'x-forwarded-role', 'super_user',
      'X-Forwarded-Auth', 'mtls', 'X-Forwarded-Client-Cert', 'Hash=0', 'x-forwarded-for', '10.0.0.1', 'X-Forwarded-Proto', 'http',
      'X-Forwarded-Host', 'evil', 'Forwarded', 'for=1.2.3.4;user=admin', 'forwarded', '', 'Authorization', 'Basic eA==',
      'Host', 'app.example:9927', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 's', 'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked', 'TE', 'trailers', 'Upgrade', 'h2c', 'Expect', '100-continue', 'Proxy-Authorization', 'Basic eA==',
      ':authority', 'app.example', 'Accept', 'text/plain', 'Cookie', 'a=1',
    ];
    const out = forwardHeaders(inbound, base);
    expect(out).toEqual([
      'Accept', 'text/plain', 'Cookie', 'a=1',
      'x-forwarded-user', 'alice', 'x-forwarded-role', 'reader', 'x-forwarded-auth', 'mtls',
      'x-forwarded-for', '192.0.2.7', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'app.example:9927',
      'forwarded', 'for=192.0.2.7;proto=https;host="app.example:9927"',
    ]);
  });

  it('the configured forwarded-certificate header is never passed on, in any spelling', () => {
    const inbound = ['X-SSL-Client-Cert', 'pem', 'x_ssl_client_cert', 'pem2', 'X_SSL_CLIENT_CERT', 'pem3', 'Accept', '*/*'];
    expect(names(forwardHeaders(inbound, { ...base, certificateHeader: 'x-ssl-client-cert' }))).not.toContain('x-ssl-client-cert');
    expect(names(forwardHeaders(inbound, { ...base, certificateHeader: 'x-ssl-client-cert' })).filter((n) => /ssl/.test(n))).toEqual([]);
    expect(names(forwardHeaders(inbound, { ...base, identity: { user: null, certificate: null }, identityHeaders: false, dropAuthorization: false, certificateHeader: 'x-ssl-client-cert' })).filter((n) => /ssl/.test(n))).toEqual([]);
  });

  it('Connection cannot name harper-tls\'s own headers away', () => {
    const out = forwardHeaders(['Connection', 'x-forwarded-user, forwarded'], base);
    expect(names(out)).toContain('x-forwarded-user');
    expect(names(out)).toContain('forwarded');
  });

  it('no user, no identityHeaders: only the forwarding headers; Authorization kept when not consumed', () => {
    const out = forwardHeaders(['Authorization', 'Bearer up', 'X-Forwarded-User', 'admin'], { ...base, identity: { user: null, certificate: null }, identityHeaders: false, dropAuthorization: false, clientAddress: '2001:db8::1', host: undefined });
    expect(out).toEqual(['Authorization', 'Bearer up', 'x-forwarded-for', '2001:db8::1', 'x-forwarded-proto', 'https', 'forwarded', 'for="[2001:db8::1]";proto=https']);
  });

  it('a believed chain is sent as given (inbound entries, then the hop); Forwarded names the client; modules keep Host', () => {
    const out = forwardHeaders(['Host', 'h:1'], { ...base, forwardedFor: ['198.51.100.1', '203.0.113.9'], keepHost: true });
    expect(headersObject(out)['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.9');
    expect(headersObject(out).forwarded).toMatch(/^for=192\.0\.2\.7;/);
    expect(headersObject(out).host).toBe('h:1');
  });

  it('a user name with control or non-ASCII characters cannot break the header line', () => {
    const out = headersObject(forwardHeaders([], { ...base, identity: { user: { username: 'a\r\nX-Forwarded-Role: super_user', role: 'r', authenticatedBy: 'basic' }, certificate: null } }));
    expect(out['x-forwarded-user']).toBe('a%0D%0AX-Forwarded-Role: super_user');
    expect(out['x-forwarded-role']).toBe('r');
  });

  it('requestHost accepts host[:port] and bracketed IPv6 only', () => {
    expect(requestHost('a.example:443')).toBe('a.example:443');
    expect(requestHost('[::1]:9927')).toBe('[::1]:9927');
    expect(requestHost('a b')).toBeUndefined();
    expect(requestHost('a"b')).toBeUndefined();
    expect(requestHost(undefined)).toBeUndefined();
  });

  it('response headers lose hop-by-hop ones and what Connection lists', () => {
    expect(responseHeaders({ connection: 'keep-alive, x-a', 'keep-alive': 'timeout=5', 'x-a': '1', 'transfer-encoding': 'chunked', 'set-cookie': ['a', 'b'], 'content-type': 'text/plain' })).toEqual({ 'set-cookie': ['a', 'b'], 'content-type': 'text/plain' });
  });
});

describe('X-Forwarded-Client-Cert (Envoy format)', () => {
  it('Hash, RFC 4514 Subject, URI and DNS SANs, URL-encoded PEM', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xfcc-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/C=US/O=Acme, Inc./CN=alice "a"', '-addext', 'subjectAltName=URI:spiffe://acme/alice,DNS:alice.acme'], { stdio: 'ignore' });
      const cert = new X509Certificate(readFileSync(join(dir, 'c.pem')));
      const v = xfccValue(cert, true);
      const hash = cert.fingerprint256.replaceAll(':', '').toLowerCase();
      expect(v.startsWith(`Hash=${hash};Subject="CN=alice \\\\\\"a\\\\\\",O=Acme\\\\, Inc.,C=US";URI="spiffe://acme/alice";DNS="alice.acme";Cert="`)).toBe(true);
      expect(decodeURIComponent(/Cert="([^"]+)"/.exec(v)![1]!)).toBe(cert.toString());
      expect(rfc4514(cert.subject)).toBe('CN=alice \\"a\\",O=Acme\\, Inc.,C=US');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a SAN with ";", "=" or "," cannot add XFCC fields: every URI/DNS value is quoted, the SAN list is read as Node quotes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xfcc-'));
    try {
      writeFileSync(join(dir, 'c.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=@alt\n[alt]\nURI.1=spiffe://evil/x;Hash=deadbeef;By=spiffe://admin\nURI.2=spiffe://a,DNS:admin.example\nDNS.1=ok.example\n');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=evil', '-config', join(dir, 'c.cnf'), '-extensions', 'ext'], { stdio: 'ignore' });
      const cert = new X509Certificate(readFileSync(join(dir, 'c.pem')));
      const hash = cert.fingerprint256.replaceAll(':', '').toLowerCase();
      const elements = parseXfcc(xfccValue(cert, false));
      expect(elements).toHaveLength(1);
      const e = elements[0]!;
      expect(e.get('hash')).toBe(hash);
      expect(e.has('by')).toBe(false);
      expect(e.get('uri')).toBe('spiffe://evil/x;Hash=deadbeef;By=spiffe://admin,spiffe://a,DNS:admin.example');
      expect(e.get('dns')).toBe('ok.example');
      expect(xfccValue(cert, false)).toBe(`Hash=${hash};Subject="CN=evil";URI="spiffe://evil/x;Hash=deadbeef;By=spiffe://admin";URI="spiffe://a,DNS:admin.example";DNS="ok.example"`);
      // Modules' clientCertificate.san: one entry per SAN, a comma inside a value is not a separator.
      expect(describeClientCertificate(cert).san).toEqual(['URI:spiffe://evil/x;Hash=deadbeef;By=spiffe://admin', 'URI:spiffe://a,DNS:admin.example', 'DNS:ok.example']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('requestHost and URLs', () => {
  it('refuses what a URL cannot carry: a port over 65535, a bad IPv4, a stray %', () => {
    for (const h of ['a:99999', '1.2.3.256', '%', 'a%zz']) expect(requestHost(h)).toBeUndefined();
    expect(requestHost('a.example:65535')).toBe('a.example:65535');
  });
});
