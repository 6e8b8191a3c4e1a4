import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, createCrl, createOcspHttpHandler, createOcspResponder, issueCertificate, KEY_TYPES, type KeyAndCert, type KeyType } from '../src/index.js';
import { execFile, spawnSync } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { openssl, tempDir } from './helpers.js';

/**
 * Every kind of certificate (root CA, intermediate, server, client, OCSP signer) for every key
 * type, checked by `openssl verify -x509_strict` (chain, purpose, host/IP/email names) and read
 * back with `openssl x509 -text`; a CRL per key type checked by `openssl crl -CAfile`; and OCSP
 * responses signed with each key type, fetched by `openssl ocsp -url` over HTTP.
 */

const t = tempDir();
afterAll(() => t.cleanup());

const KEY_TEXT: Record<KeyType, RegExp> = {
  'ec-p256': /Public Key Algorithm: id-ecPublicKey[\s\S]*ASN1 OID: prime256v1/,
  'ec-p384': /Public Key Algorithm: id-ecPublicKey[\s\S]*ASN1 OID: secp384r1/,
  ed25519: /Public Key Algorithm: ED25519/,
  'rsa-2048': /Public-Key: \(2048 bit\)/,
  'rsa-3072': /Public-Key: \(3072 bit\)/,
  'rsa-4096': /Public-Key: \(4096 bit\)/,
};
const SIGNATURE: Record<KeyType, string> = {
  'ec-p256': 'ecdsa-with-SHA256',
  'ec-p384': 'ecdsa-with-SHA384',
  ed25519: 'ED25519',
  'rsa-2048': 'sha256WithRSAEncryption',
  'rsa-3072': 'sha256WithRSAEncryption',
  'rsa-4096': 'sha256WithRSAEncryption',
};

interface Chain {
  root: KeyAndCert;
  intermediate: KeyAndCert;
  server: KeyAndCert;
  client: KeyAndCert;
  ocsp: KeyAndCert;
  files: Record<'root' | 'intermediate' | 'server' | 'client' | 'ocsp', string>;
}
const sets = new Map<KeyType, Chain>();

/** The value line under an extension heading of `openssl x509 -text`. */
function extValue(text: string, heading: string): string {
  const m = new RegExp(`${heading}:(?: critical)?\\s*\\n\\s*(.+)`).exec(text);
  if (!m) throw new Error(`no ${heading} in\n${text}`);
  return m[1]!.trim().replace(/^keyid:/, '');
}

const CRL_URL = 'http://127.0.0.1:9926/ca/crl';
const OCSP_URL = 'http://127.0.0.1:9926/ca/ocsp';

beforeAll(async () => {
  // Key generation runs on libuv's thread pool: one chain per key type, all in parallel.
  await Promise.all(
    KEY_TYPES.map(async (keyType) => {
      const root = await createCA({ commonName: `Root ${keyType}`, keyType });
      const intermediate = await createCA({ commonName: `Intermediate ${keyType}`, keyType, issuer: root, pathLength: 0, crlUrl: CRL_URL, ocspUrl: OCSP_URL });
      const [server, client, ocsp] = await Promise.all([
        issueCertificate({ ca: intermediate, kind: 'server', keyType, commonName: 'example.com', sans: ['DNS:example.com', 'DNS:*.example.com', 'IP:10.0.0.1', 'IP:::1'], crlUrl: CRL_URL, ocspUrl: OCSP_URL }),
        issueCertificate({ ca: intermediate, kind: 'client', keyType, commonName: 'alice', sans: ['email:alice@example.com', 'URI:spiffe://example.org/user/alice', 'DNS:alice.example.com'], crlUrl: CRL_URL, ocspUrl: OCSP_URL }),
        issueCertificate({ ca: intermediate, kind: 'ocsp-signer', keyType, commonName: `OCSP ${keyType}` }),
      ]);
      const files = {
        root: t.write(`${keyType}-root.pem`, root.certificatePem),
        intermediate: t.write(`${keyType}-int.pem`, intermediate.certificatePem),
        server: t.write(`${keyType}-server.pem`, server.certificatePem),
        client: t.write(`${keyType}-client.pem`, client.certificatePem),
        ocsp: t.write(`${keyType}-ocsp.pem`, ocsp.certificatePem),
      };
      sets.set(keyType, { root, intermediate, server, client, ocsp, files });
    }),
  );
}, 120_000);

const verify = (s: Chain, leaf: string, ...extra: string[]) => openssl(['verify', '-x509_strict', '-CAfile', s.files.root, '-untrusted', s.files.intermediate, ...extra, leaf]).trim();
const text = (file: string) => openssl(['x509', '-noout', '-text', '-in', file]);

const run = promisify(execFile);
const servers: http.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

describe.each(KEY_TYPES)('%s: every kind of certificate, checked by openssl', (keyType) => {
  it('root CA: self-signed, verifies against itself, CA:TRUE critical, keyCertSign + cRLSign, SKI', () => {
    const s = sets.get(keyType)!;
    expect(openssl(['verify', '-x509_strict', '-CAfile', s.files.root, s.files.root]).trim()).toMatch(/: OK$/);
    const x = text(s.files.root);
    expect(x).toMatch(KEY_TEXT[keyType]);
    expect(x).toContain(`Signature Algorithm: ${SIGNATURE[keyType]}`);
    expect(x).toMatch(new RegExp(`Issuer: CN ?= ?Root ${keyType}[\\s\\S]*Subject: CN ?= ?Root ${keyType}`));
    expect(x).toMatch(/Basic Constraints: critical\s+CA:TRUE\n/);
    expect(x).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(extValue(x, 'Subject Key Identifier')).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(x).toMatch(/Serial Number:\s*\n\s*([0-9a-f]{2}:){15}[0-9a-f]{2}/);
  });

  it('intermediate: chains to the root, pathlen:0, AKI = root SKI, CDP and AIA', () => {
    const s = sets.get(keyType)!;
    expect(openssl(['verify', '-x509_strict', '-CAfile', s.files.root, s.files.intermediate]).trim()).toMatch(/: OK$/);
    const x = text(s.files.intermediate);
    expect(x).toMatch(KEY_TEXT[keyType]);
    expect(x).toContain(`Signature Algorithm: ${SIGNATURE[keyType]}`);
    expect(x).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(x).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(extValue(x, 'Authority Key Identifier')).toBe(extValue(text(s.files.root), 'Subject Key Identifier'));
    expect(x).toContain(`URI:${CRL_URL}`);
    expect(x).toContain(`OCSP - URI:${OCSP_URL}`);
  });

  it('server: serverAuth, DNS/wildcard/IPv4/IPv6 SANs that openssl matches, AKI = intermediate SKI', () => {
    const s = sets.get(keyType)!;
    expect(verify(s, s.files.server, '-purpose', 'sslserver')).toMatch(/: OK$/);
    expect(verify(s, s.files.server, '-verify_hostname', 'example.com')).toMatch(/: OK$/);
    expect(verify(s, s.files.server, '-verify_hostname', 'www.example.com')).toMatch(/: OK$/); // wildcard
    expect(verify(s, s.files.server, '-verify_ip', '10.0.0.1')).toMatch(/: OK$/);
    expect(verify(s, s.files.server, '-verify_ip', '::1')).toMatch(/: OK$/);
    expect(() => verify(s, s.files.server, '-verify_hostname', 'a.b.example.com')).toThrow(/hostname mismatch/);
    expect(() => verify(s, s.files.server, '-purpose', 'sslclient')).toThrow(/unsuitable certificate purpose/);
    const x = text(s.files.server);
    expect(x).toMatch(KEY_TEXT[keyType]);
    expect(x).toContain(`Signature Algorithm: ${SIGNATURE[keyType]}`);
    expect(x).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(x).toMatch(keyType.startsWith('rsa') ? /Key Usage: critical\s+Digital Signature, Key Encipherment\n/ : /Key Usage: critical\s+Digital Signature\n/);
    expect(extValue(x, 'Extended Key Usage')).toBe('TLS Web Server Authentication');
    expect(extValue(x, 'Subject Alternative Name')).toBe('DNS:example.com, DNS:*.example.com, IP Address:10.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(extValue(x, 'Authority Key Identifier')).toBe(extValue(text(s.files.intermediate), 'Subject Key Identifier'));
    expect(x).toContain(`URI:${CRL_URL}`);
    expect(x).toContain(`OCSP - URI:${OCSP_URL}`);
  });

  it('client: clientAuth, CN = username, email/URI/DNS SANs', () => {
    const s = sets.get(keyType)!;
    expect(verify(s, s.files.client, '-purpose', 'sslclient')).toMatch(/: OK$/);
    expect(verify(s, s.files.client, '-verify_email', 'alice@example.com')).toMatch(/: OK$/);
    expect(() => verify(s, s.files.client, '-purpose', 'sslserver')).toThrow(/unsuitable certificate purpose/);
    const x = text(s.files.client);
    expect(x).toMatch(KEY_TEXT[keyType]);
    expect(x).toMatch(/Subject: CN ?= ?alice\n/);
    expect(x).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(extValue(x, 'Extended Key Usage')).toBe('TLS Web Client Authentication');
    expect(extValue(x, 'Subject Alternative Name')).toBe('email:alice@example.com, URI:spiffe://example.org/user/alice, DNS:alice.example.com');
    expect(extValue(x, 'Authority Key Identifier')).toBe(extValue(text(s.files.intermediate), 'Subject Key Identifier'));
  });

  it('OCSP signer: OCSPSigning, ocsp-nocheck, chains to the root', () => {
    const s = sets.get(keyType)!;
    expect(verify(s, s.files.ocsp, '-purpose', 'ocsphelper')).toMatch(/: OK$/);
    const x = text(s.files.ocsp);
    expect(x).toMatch(KEY_TEXT[keyType]);
    expect(extValue(x, 'Extended Key Usage')).toBe('OCSP Signing');
    expect(x).toContain('OCSP No Check');
    expect(x).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
  });

  it('CRL signed by the intermediate: openssl crl -CAfile verifies it; number, reasons and nextUpdate visible', async () => {
    const s = sets.get(keyType)!;
    const thisUpdate = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const nextUpdate = new Date(thisUpdate.getTime() + 7 * 86_400_000 + 1234_000);
    const der = await createCrl({
      ca: s.intermediate,
      crlNumber: 1234567890123n,
      thisUpdate,
      nextUpdate,
      revoked: [
        { serialHex: s.client.serialHex, revokedAt: new Date('2026-10-31T08:00:00Z'), reason: 'keyCompromise' },
        { serialHex: s.server.serialHex, revokedAt: new Date('2026-10-30T08:00:00Z'), reason: 'cessationOfOperation' },
        { serialHex: '7f', revokedAt: new Date('2026-10-29T08:00:00Z') },
      ],
    });
    const file = t.write(`${keyType}.crl`, der);
    const out = openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', s.files.intermediate, '-noout', '-text']);
    expect(out).toContain(`Signature Algorithm: ${SIGNATURE[keyType]}`);
    expect(out).toMatch(new RegExp(`Issuer: CN ?= ?Intermediate ${keyType}`));
    expect(out).toMatch(/CRL Number: \n\s+1234567890123\n/);
    expect(out).toContain(`Last Update: ${opensslDate(thisUpdate)}`);
    expect(out).toContain(`Next Update: ${opensslDate(nextUpdate)}`);
    expect(out).toContain('Key Compromise');
    expect(out).toContain('Cessation Of Operation');
    expect(out.toUpperCase()).toContain(s.client.serialHex.toUpperCase());
    // the verdict goes to stderr, so ask for it separately; a wrong CA must fail
    expect(opensslBoth(['crl', '-inform', 'DER', '-in', file, '-CAfile', s.files.intermediate, '-noout'])).toMatch(/verify OK/);
    expect(() => openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', s.files.root, '-noout'])).toThrow();
    // and it revokes the client certificate for openssl verify -crl_check
    const pemCrl = t.write(`${keyType}-crl.pem`, openssl(['crl', '-inform', 'DER', '-in', file]));
    expect(() => verify(s, s.files.client, '-crl_check', '-CRLfile', pemCrl)).toThrow(/certificate revoked/);
    expect(verify(s, s.files.ocsp, '-crl_check', '-CRLfile', pemCrl)).toMatch(/: OK$/);
  });

  it('OCSP responses signed by the intermediate and by its delegated signer: openssl ocsp -url over HTTP', async () => {
    const s = sets.get(keyType)!;
    const lookup = (serial: string) => (serial === s.server.serialHex ? { status: 'revoked' as const, revokedAt: new Date('2026-10-30T08:00:00Z'), reason: 'superseded' as const } : serial === s.client.serialHex ? { status: 'good' as const } : { status: 'unknown' as const });
    for (const signer of [undefined, s.ocsp]) {
      const server = http.createServer(createOcspHttpHandler(createOcspResponder({ issuer: s.intermediate, signer, lookup })));
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      const { stdout, stderr } = await run('openssl', ['ocsp', '-issuer', s.files.intermediate, '-cert', s.files.client, '-cert', s.files.server, '-url', url, '-CAfile', s.files.root, '-verify_other', s.files.intermediate, '-resp_text'], { encoding: 'utf8' });
      const out = stdout + stderr;
      expect(out).toContain('Response verify OK');
      expect(out).toContain(`Signature Algorithm: ${SIGNATURE[keyType]}`);
      expect(out).toMatch(/-client\.pem: good/);
      expect(out).toMatch(/-server\.pem: revoked/);
      expect(out).toContain('Reason: superseded');
      expect(out).toContain('OCSP Nonce');
      if (signer) expect(out).toMatch(new RegExp(`Subject: CN ?= ?OCSP ${keyType}`));
    }
  });
});

/** stdout + stderr of a successful openssl run. */
function opensslBoth(args: string[]): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout + r.stderr;
}

/** A date as openssl prints it: `Nov  8 12:30:00 2026 GMT`. */
function opensslDate(d: Date): string {
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  return `${month} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()} GMT`;
}
