import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { curlJson, makeClients, metric, startHarperTls, type Clients } from './harness.js';

/** AWS's encoding of X-Amzn-Mtls-Clientcert: "URL-encoded PEM format ... with +=/ as safe characters". */
const awsUrlEncode = (pem: string) => pem.replace(/[^A-Za-z0-9_.\-~+=/]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

/**
 * Proxies without a binary here (Envoy's XFCC, AWS ALB's passthrough header) are played by curl
 * from 127.0.0.1 (the trusted proxy), with headers built exactly as those proxies write them; an
 * attacker is curl from 127.0.0.2.
 */
describe.each([
  ['xfcc (Envoy)', 'xfcc', 'x-forwarded-client-cert'],
  ['pem-urlencoded (AWS ALB passthrough)', 'pem-urlencoded', 'x-amzn-mtls-clientcert'],
] as const)('forwarded certificates in %s', (_title, format, header) => {
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let clients: Clients;
  beforeAll(async () => {
    harper = await startHarperTls((p) => [
      `port: ${p.http}`,
      "trustedProxies: ['127.0.0.1', '::1']",
      'mtls:',
      '  required: false',
      '  certificateVerification: true',
      `  forwardedCertificate: { format: ${format}, header: ${header} }`,
    ]);
    clients = await makeClients(harper.root);
  });
  afterAll(async () => {
    await harper?.stop();
  });

  const caPem = () => readFileSync(clients.ca, 'utf8');
  /** The header value this proxy writes for a client that presented `name` (leaf, then the chain it sent). */
  const value = (name: 'alice' | 'bob' | 'carol' | 'expired' | 'foreign') => {
    const pem = clients.cert(name).pem;
    if (format === 'pem-urlencoded') return awsUrlEncode(pem + caPem());
    const hash = createHash('sha256').update(Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64')).digest('hex');
    return `By=spiffe://cluster.local/ns/default/sa/harper;Hash=${hash};Cert="${encodeURIComponent(pem)}";Subject="CN=${name}";URI=`;
  };
  const ask = (headers: string[], from = '127.0.0.1', host = '127.0.0.1') => curlJson(['--interface', from, ...headers.flatMap((h) => ['-H', h]), `http://${host.includes(':') ? `[${host}]` : host}:${harper.ports.http}/whoami`]);

  it('good, revoked, expired, foreign-CA and missing certificates from the trusted proxy', async () => {
    expect(await ask([`${header}: ${value('alice')}`])).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' } });
    expect(await ask([`${header}: ${value('alice')}`], '::1', '::1')).toEqual({ status: 200, body: { username: 'alice', role: 'reader', authenticatedBy: 'mtls' } });
    expect(await ask([`${header}: ${value('bob')}`])).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    expect(await ask([`${header}: ${value('expired')}`])).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await ask([`${header}: ${value('foreign')}`])).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await ask([])).toEqual({ status: 401, body: { error: 'Login failed' } });
  });

  it('the same header from 127.0.0.2 (outside trustedProxies) is never believed, and counted', async () => {
    const before = await metric(harper.ports.ops, /^harper_tls_forwarded_untrusted_total\{listener="http"\}/);
    expect(await ask([`${header}: ${value('alice')}`], '127.0.0.2')).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await ask([`${header}: ${value('alice')}`, 'X-Forwarded-For: 127.0.0.1'], '127.0.0.2')).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect(await metric(harper.ports.ops, /^harper_tls_forwarded_untrusted_total\{listener="http"\}/)).toBe(before + 2);
  });

  it('malformed, truncated, duplicated and oversized headers: 400 or 401, never 500', async () => {
    const alice = value('alice');
    const cases: Array<[string[], number]> = [
      [[`${header}: ${alice.slice(0, Math.floor(alice.length / 2))}`], format === 'xfcc' ? 400 : 401], // truncated (XFCC: an open quote)
      [[`${header}: %ZZ%`], 400], // a bad escape; for XFCC, a pair without "="
      [[`${header}: Cert=%ZZ`], 400],
      [[`${header}: ${alice}`, `${header}: ${value('carol')}`], 401],
      [[`${header}: ${'A'.repeat(13 * 1024)}`], 400],
      [[`${header}: ${format === 'xfcc' ? 'Cert=' : ''}-----BEGIN%20CERTIFICATE-----%0Anot-base64!%0A-----END%20CERTIFICATE-----`], 401],
      [[`${header}: ${format === 'xfcc' ? 'Cert="' + encodeURIComponent('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----') + '"' : awsUrlEncode('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----')}`], 401],
    ];
    for (const [headers, status] of cases) {
      const r = await ask(headers);
      expect([headers[0]!.slice(0, 60), r.status]).toEqual([headers[0]!.slice(0, 60), status]);
      expect(r.body.error).toMatch(status === 400 ? /cannot be decoded/ : /Login failed/);
    }
  });

  if (format === 'xfcc') {
    it('an attacker element before the proxy\'s is ignored: only the last element counts', async () => {
      const attacker = `Cert="${encodeURIComponent(clients.cert('alice').pem)}"`;
      expect((await ask([`${header}: ${attacker},${value('carol')}`])).body.username).toBe('carol');
      // The proxy's element has no certificate (the client presented none): the attacker's is not used.
      expect(await ask([`${header}: ${attacker},By=spiffe://cluster.local/ns/default/sa/harper`])).toEqual({ status: 401, body: { error: 'Login failed' } });
    });
  }
});

describe('http.mtls.required through a trusted proxy', () => {
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let clients: Clients;
  beforeAll(async () => {
    harper = await startHarperTls((p) => [`port: ${p.http}`, "trustedProxies: ['127.0.0.0/24']", 'mtls:', '  required: true', '  forwardedCertificate: { format: der-base64 }']);
    clients = await makeClients(harper.root);
  });
  afterAll(async () => {
    await harper?.stop();
  });

  it('Basic credentials alone do not replace the forwarded certificate; from outside the list Basic works as on any plain listener', async () => {
    const der = clients.cert('alice').pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
    const url = `http://127.0.0.1:${harper.ports.http}/whoami`;
    expect((await curlJson(['-H', `x-ssl-client-der: ${der}`, url])).body.username).toBe('alice');
    expect(await curlJson(['-u', 'alice:alice-pw', url])).toEqual({ status: 401, body: { error: 'Login failed' } });
    expect((await curlJson(['--interface', '127.0.1.1', '-u', 'alice:alice-pw', url])).body).toEqual({ username: 'alice', role: 'reader', authenticatedBy: 'basic' });
  });
});
