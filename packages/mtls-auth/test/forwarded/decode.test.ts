import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { decodeForwardedCertificate, parseXfcc, MAX_FORWARDED_BYTES } from '../../src/index.js';
import { makePki, type TestPki } from '../certs.js';

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

/** AWS ALB: "URL-encoded PEM format ... with +=/ as safe characters". */
const albEncode = (pem: string) => pem.replace(/[^A-Za-z0-9_.\-~+=/]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
const der64 = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
const fp = (d: ReturnType<typeof decodeForwardedCertificate>) => (d.kind === 'chain' ? d.certificates.map((c) => c.subject) : d);

describe('decodeForwardedCertificate', () => {
  it('pem-urlencoded: nginx $ssl_client_escaped_cert (encodeURIComponent) and ALB (+=/ kept) both decode; + is never a space', () => {
    const chain = pki.dave.cert + pki.inter.cert;
    expect(fp(decodeForwardedCertificate('pem-urlencoded', [encodeURIComponent(chain)]))).toEqual(['CN=dave', 'CN=Test Intermediate']);
    const alb = albEncode(pki.alice.cert);
    expect(alb).toMatch(/^-----BEGIN%20CERTIFICATE-----%0A/);
    expect(fp(decodeForwardedCertificate('pem-urlencoded', [alb]))).toEqual(['CN=alice\nO=Example']);
    // A form decoder would turn + into a space and break the base64: make sure one was there.
    expect(der64(pki.alice.cert).includes('+') || der64(pki.bob.cert).includes('+') || der64(pki.dave.cert).includes('+')).toBe(true);
    for (const c of [pki.alice, pki.bob, pki.dave, pki.unknown, pki.jorg]) expect(decodeForwardedCertificate('pem-urlencoded', [albEncode(c.cert)]).kind).toBe('chain');
  });

  it('der-base64: HAProxy %[ssl_c_der,base64], and a comma-separated chain', () => {
    expect(fp(decodeForwardedCertificate('der-base64', [der64(pki.alice.cert)]))).toEqual(['CN=alice\nO=Example']);
    expect(fp(decodeForwardedCertificate('der-base64', [`${der64(pki.dave.cert)}, ${der64(pki.inter.cert)}`]))).toEqual(['CN=dave', 'CN=Test Intermediate']);
  });

  it('xfcc: only the last element (the nearest proxy) counts; Hash must match; Chain= is read leaf first', () => {
    const attacker = `Hash=00;Cert="${encodeURIComponent(pki.alice.cert)}";Subject="CN=alice"`;
    const proxy = `By=spiffe://proxy;Cert="${encodeURIComponent(pki.bob.cert)}";Subject="CN=bob,O=x";URI=spiffe://a;DNS=a.example`;
    expect(fp(decodeForwardedCertificate('xfcc', [`${attacker},${proxy}`]))).toEqual(['CN=bob']);
    const hash = createHash('sha256').update(pki.bob.x509.raw).digest('hex');
    expect(decodeForwardedCertificate('xfcc', [`Hash=${hash};Cert="${encodeURIComponent(pki.bob.cert)}"`]).kind).toBe('chain');
    expect(decodeForwardedCertificate('xfcc', [`Hash=${'0'.repeat(64)};Cert="${encodeURIComponent(pki.bob.cert)}"`])).toMatchObject({ kind: 'bad', status: 401 });
    expect(fp(decodeForwardedCertificate('xfcc', [`Cert=${encodeURIComponent(pki.dave.cert)};Chain=${encodeURIComponent(pki.dave.cert + pki.inter.cert)}`]))).toEqual(['CN=dave', 'CN=Test Intermediate']);
    // The proxy's element without Cert= while the attacker's has one: refused, not the attacker's.
    expect(decodeForwardedCertificate('xfcc', [`${attacker},By=spiffe://proxy;Hash=${hash}`])).toMatchObject({ kind: 'bad', status: 401 });
    expect(parseXfcc('a=1;b="x,y;z=\\"q\\"",c=2')).toEqual([new Map([['a', '1'], ['b', 'x,y;z="q"']]), new Map([['c', '2']])]);
  });

  it('absent or empty: no certificate; two copies: 401; undecodable: 400; decodable but not a certificate: 401', () => {
    expect(decodeForwardedCertificate('pem-urlencoded', [])).toEqual({ kind: 'none' });
    expect(decodeForwardedCertificate('der-base64', ['  '])).toEqual({ kind: 'none' });
    const one = encodeURIComponent(pki.alice.cert);
    expect(decodeForwardedCertificate('pem-urlencoded', [one, one])).toMatchObject({ kind: 'bad', status: 401 });
    expect(decodeForwardedCertificate('pem-urlencoded', ['%E0%A4%A'])).toMatchObject({ kind: 'bad', status: 400 });
    expect(decodeForwardedCertificate('der-base64', ['not base64!'])).toMatchObject({ kind: 'bad', status: 400 });
    expect(decodeForwardedCertificate('xfcc', ['Cert="unterminated'])).toMatchObject({ kind: 'bad', status: 400 });
    expect(decodeForwardedCertificate('xfcc', ['Cert'])).toMatchObject({ kind: 'bad', status: 400 });
    expect(decodeForwardedCertificate('pem-urlencoded', ['hello'])).toMatchObject({ kind: 'bad', status: 401 });
    expect(decodeForwardedCertificate('pem-urlencoded', [encodeURIComponent(pki.alice.cert.slice(0, 200) + '\n-----END CERTIFICATE-----\n')])).toMatchObject({ kind: 'bad', status: 401 });
    expect(decodeForwardedCertificate('der-base64', [Buffer.from('not a certificate').toString('base64').padEnd(24, '=')])).toMatchObject({ kind: 'bad' });
    expect(decodeForwardedCertificate('pem-urlencoded', [encodeURIComponent(pki.alice.cert) + 'trailing'])).toMatchObject({ kind: 'bad', status: 401 });
    expect(decodeForwardedCertificate('pem-urlencoded', ['A'.repeat(MAX_FORWARDED_BYTES + 1)])).toMatchObject({ kind: 'bad', status: 400 });
    expect(decodeForwardedCertificate('der-base64', [Array(9).fill(der64(pki.alice.cert)).join(',')])).toMatchObject({ kind: 'bad', status: 401 });
  });
});
