import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { createCA, issueCertificate, KEY_TYPES, type KeyAndCert, type KeyType } from '../src/index.js';
import { openssl, tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());

describe('createCA and issueCertificate, verified by openssl', () => {
  let root: KeyAndCert;
  let intermediate: KeyAndCert;
  beforeAll(async () => {
    root = await createCA({ commonName: 'Test Root' });
    intermediate = await createCA({ commonName: 'Test Intermediate', issuer: root, pathLength: 0 });
  });

  it('makes a root CA with critical basicConstraints and keyCertSign/cRLSign', () => {
    const text = openssl(['x509', '-noout', '-text', '-in', t.write('root.pem', root.certificatePem)]);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toContain('Subject Key Identifier');
    expect(text).toContain('ASN1 OID: prime256v1');
  });

  it('makes an intermediate openssl chains to the root, with pathlen', () => {
    const out = openssl(['verify', '-CAfile', t.write('root2.pem', root.certificatePem), t.write('int.pem', intermediate.certificatePem)]);
    expect(out.trim()).toMatch(/OK$/);
    expect(openssl(['x509', '-noout', '-text', '-in', t.write('int2.pem', intermediate.certificatePem)])).toMatch(/CA:TRUE, pathlen:0/);
  });

  it.each(KEY_TYPES.filter((k) => k !== 'rsa-4096' && k !== 'rsa-3072'))('issues server certificates with %s keys that openssl verifies through an intermediate', async (keyType) => {
    const cert = await issueCertificate({ ca: intermediate, kind: 'server', commonName: 'example.com', sans: ['DNS:example.com', 'DNS:*.example.com', 'IP:10.0.0.1', 'IP:::1'], keyType: keyType as KeyType });
    const leaf = t.write(`srv-${keyType}.pem`, cert.certificatePem);
    const out = openssl(['verify', '-CAfile', t.write('root3.pem', root.certificatePem), '-untrusted', t.write('int3.pem', intermediate.certificatePem), '-purpose', 'sslserver', leaf]);
    expect(out.trim()).toMatch(/OK$/);
    const x = new X509Certificate(cert.certificatePem);
    expect(x.subjectAltName).toBe('DNS:example.com, DNS:*.example.com, IP Address:10.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(cert.privateKeyPem))).toBe(true);
    expect(cert.serialHex).toMatch(/^[0-9a-f]{32}$/);
  });

  it('issues client certificates with clientAuth, CN = username, email/URI SANs, CRL and OCSP URLs', async () => {
    const cert = await issueCertificate({ ca: root, kind: 'client', commonName: 'alice', sans: ['email:alice@example.com', 'URI:spiffe://example.org/user/alice'], crlUrl: 'http://127.0.0.1:1/crl', ocspUrl: 'http://127.0.0.1:1/ocsp' });
    const file = t.write('alice.pem', cert.certificatePem);
    expect(openssl(['verify', '-CAfile', t.write('root4.pem', root.certificatePem), '-purpose', 'sslclient', file]).trim()).toMatch(/OK$/);
    const text = openssl(['x509', '-noout', '-text', '-in', file]);
    expect(text).toMatch(/Subject: CN ?= ?alice/);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).toContain('email:alice@example.com');
    expect(text).toContain('URI:spiffe://example.org/user/alice');
    expect(text).toContain('URI:http://127.0.0.1:1/crl');
    expect(text).toContain('OCSP - URI:http://127.0.0.1:1/ocsp');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature/);
  });

  it('issues OCSP signers with OCSPSigning and ocsp-nocheck', async () => {
    const cert = await issueCertificate({ ca: root, kind: 'ocsp-signer', commonName: 'OCSP' });
    const text = openssl(['x509', '-noout', '-text', '-in', t.write('ocsp.pem', cert.certificatePem)]);
    expect(text).toContain('OCSP Signing');
    expect(text).toContain('OCSP No Check');
  });

  it('uses random, distinct, positive serials of at least 64 bits', async () => {
    const serials = await Promise.all(Array.from({ length: 5 }, () => issueCertificate({ ca: root, kind: 'client', commonName: 'x' }).then((c) => c.serialHex)));
    expect(new Set(serials).size).toBe(5);
    for (const s of serials) expect(BigInt(`0x${s}`) >= 2n ** 64n && BigInt(`0x${s}`) < 2n ** 127n).toBe(true);
  });

  it.each([
    [{ kind: 'client', commonName: '' }, /commonName \(CN\) is required/],
    [{ kind: 'client', commonName: 'x', days: 0 }, /days must be a whole number/],
    [{ kind: 'client', commonName: 'x', days: 1.5 }, /days must be a whole number/],
    [{ kind: 'client', commonName: 'x', keyType: 'dsa' }, /unknown key type "dsa"/],
    [{ kind: 'server', commonName: 'x', sans: ['IP:300.1.1.1'] }, /not an IPv4 or IPv6 address/],
    [{ kind: 'server', commonName: 'x', sans: ['DNS:a..b'] }, /not a valid DNS name/],
    [{ kind: 'server', commonName: 'x', sans: ['email:nope'] }, /not an email address/],
    [{ kind: 'server', commonName: 'x', sans: ['URI:not a uri'] }, /not an absolute URI/],
    [{ kind: 'robot', commonName: 'x' }, /kind must be server, client or ocsp-signer/],
    [{ kind: 'client', commonName: 'x', crlUrl: 'ldap://x' }, /crlUrl must be an http\(s\) URL/],
    // Zero: the certificate would carry a random serial while serialHex said 0.
    [{ kind: 'client', commonName: 'x', serialHex: '0' }, /serial "0" is zero; RFC 5280 section 4.1.2.2 requires a positive serial number/],
    [{ kind: 'client', commonName: 'x', serialHex: '00:00' }, /is zero/],
    // 20 bytes with the top bit set: 21 octets with the sign pad; 21 bytes: 21 octets.
    [{ kind: 'client', commonName: 'x', serialHex: '80'.repeat(20) }, /is 21 octets as a DER INTEGER \(sign pad included\); RFC 5280 section 4.1.2.2 allows at most 20/],
    [{ kind: 'client', commonName: 'x', serialHex: '01'.repeat(21) }, /is 21 octets/],
  ])('rejects %j with a typed error', async (opts, message) => {
    await expect(issueCertificate({ ca: root, ...(opts as object) } as never)).rejects.toMatchObject({ code: 'ERR_CERTGEN_INVALID_INPUT', message: expect.stringMatching(message) });
  });

  it('a given serialHex is the certificate\'s: up to 20 octets as a DER INTEGER (sign pad included)', async () => {
    for (const serialHex of ['1', '7f' + 'ff'.repeat(19), '80'.repeat(19)]) {
      const cert = await issueCertificate({ ca: root, kind: 'client', commonName: 'x', serialHex });
      expect([cert.serialHex, new X509Certificate(cert.certificatePem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '')]).toEqual([serialHex, serialHex]);
    }
    const ca = await createCA({ commonName: 'Serial CA', serialHex: '0x0a' });
    expect(new X509Certificate(ca.certificatePem).serialNumber).toBe('0A');
    await expect(createCA({ commonName: 'Zero CA', serialHex: '0' })).rejects.toMatchObject({ code: 'ERR_CERTGEN_INVALID_INPUT', message: expect.stringMatching(/is zero/) });
  });

  it('refuses to issue from a certificate that is not a CA', async () => {
    const leaf = await issueCertificate({ ca: root, kind: 'client', commonName: 'x' });
    await expect(issueCertificate({ ca: leaf, kind: 'client', commonName: 'y' })).rejects.toMatchObject({ code: 'ERR_CERTGEN_INVALID_INPUT' });
  });
});
