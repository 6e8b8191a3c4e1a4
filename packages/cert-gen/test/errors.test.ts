import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HarperTlsError } from '@harper-tls/config';
import { CertGenError, createCA, createCrl, createLocalCa, createMemoryLocalCaStore, generateKeyPair, issueCertificate, parseSan, type KeyAndCert } from '../src/index.js';

/**
 * Bad input is a user's mistake, not a bug: every one gives a CertGenError with a stable code and
 * a message that names the value and says what is allowed.
 */

async function failure(p: Promise<unknown> | (() => unknown)): Promise<CertGenError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as CertGenError;
  }
  throw new Error('expected a failure');
}

function expectTyped(err: CertGenError, code: string, message: RegExp): void {
  expect(err).toBeInstanceOf(CertGenError);
  expect(err).toBeInstanceOf(HarperTlsError);
  expect(err.name).toBe('CertGenError');
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
  expect(err.message).not.toMatch(/\n\s+at /); // a sentence, not a stack
}

let ca: KeyAndCert;
beforeAll(async () => {
  ca = await createCA({ commonName: 'Errors CA' });
});

describe('unknown key type', () => {
  it.each(['dsa', 'rsa-1024', 'ec-p521', 'RSA-2048', ''])('"%s" is refused by createCA, issueCertificate and generateKeyPair, naming the allowed types', async (keyType) => {
    const allowed = /unknown key type .*; use one of ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096/;
    expectTyped(await failure(createCA({ commonName: 'x', keyType: keyType as never })), 'ERR_CERTGEN_INVALID_INPUT', allowed);
    expectTyped(await failure(issueCertificate({ ca, kind: 'client', commonName: 'x', keyType: keyType as never })), 'ERR_CERTGEN_INVALID_INPUT', allowed);
    expectTyped(await failure(generateKeyPair(keyType as never)), 'ERR_CERTGEN_INVALID_INPUT', allowed);
  });
});

describe('invalid SAN', () => {
  it.each([
    ['DNS:a..b', /"a\.\.b" is not a valid DNS name/],
    ['DNS:*.*.example.com', /not a valid DNS name \(wildcards only as a whole first label/],
    ['DNS:www.*.example.com', /not a valid DNS name/],
    ['DNS:foo*.example.com', /not a valid DNS name/],
    ['DNS:-bad.example.com', /not a valid DNS name/],
    [`DNS:${'a'.repeat(64)}.com`, /not a valid DNS name/],
    ['DNS:', /has no value/],
    ['IP:300.1.1.1', /"300\.1\.1\.1" is not an IPv4 or IPv6 address/],
    ['IP:1.2.3', /not an IPv4 or IPv6 address/],
    ['IP:::g', /not an IPv4 or IPv6 address/],
    ['email:alice', /"alice" is not an email address/],
    ['email:a b@example.com', /not an email address/],
    ['URI:relative/path', /not an absolute URI/],
    ['exotic name with spaces', /not a valid DNS name/],
  ])('%s', async (san, message) => {
    expectTyped(await failure(() => parseSan(san)), 'ERR_CERTGEN_INVALID_INPUT', message);
    expectTyped(await failure(issueCertificate({ ca, kind: 'server', commonName: 'x', sans: [san] })), 'ERR_CERTGEN_INVALID_INPUT', new RegExp(`SAN "${san.replace(/[.*+?()[\]\\]/g, '\\$&')}"`));
  });

  it('a server certificate without SANs gets its CN as a DNS name, so a CN that is no host name is refused', async () => {
    expectTyped(await failure(issueCertificate({ ca, kind: 'server', commonName: 'My Server' })), 'ERR_CERTGEN_INVALID_INPUT', /"My Server" is not a valid DNS name/);
  });
});

describe('CN missing', () => {
  it.each([undefined, null, '', '   ', 42])('%j is refused by createCA and issueCertificate', async (cn) => {
    expectTyped(await failure(createCA({ commonName: cn as never })), 'ERR_CERTGEN_INVALID_INPUT', /commonName \(CN\) is required and must not be empty/);
    expectTyped(await failure(issueCertificate({ ca, kind: 'client', commonName: cn as never })), 'ERR_CERTGEN_INVALID_INPUT', /commonName \(CN\) is required/);
    expectTyped(await failure(createLocalCa({ ca, store: createMemoryLocalCaStore() }).issue({ cn: cn as never })), 'ERR_CERTGEN_INVALID_INPUT', /commonName \(CN\) is required/);
  });

  it('a CN over 64 characters is refused with the RFC 5280 limit', async () => {
    expectTyped(await failure(issueCertificate({ ca, kind: 'client', commonName: 'x'.repeat(65) })), 'ERR_CERTGEN_INVALID_INPUT', /commonName is 65 characters; RFC 5280 allows at most 64/);
  });
});

describe('days <= 0 (and other bad validity)', () => {
  it.each([0, -1, -365, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 36_501, '30'])('days = %j is refused', async (days) => {
    const message = new RegExp(`days must be a whole number from 1 to 36500; got ${String(days)}`);
    expectTyped(await failure(createCA({ commonName: 'x', days: days as never })), 'ERR_CERTGEN_INVALID_INPUT', message);
    expectTyped(await failure(issueCertificate({ ca, kind: 'client', commonName: 'x', days: days as never })), 'ERR_CERTGEN_INVALID_INPUT', message);
    expectTyped(await failure(createLocalCa({ ca, store: createMemoryLocalCaStore() }).issue({ cn: 'x', days: days as never })), 'ERR_CERTGEN_INVALID_INPUT', message);
  });

  it('a CRL whose nextUpdate is not after thisUpdate is refused', async () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expectTyped(await failure(createCrl({ ca, revoked: [], crlNumber: 1, thisUpdate: at, nextUpdate: at })), 'ERR_CERTGEN_INVALID_INPUT', /nextUpdate must be a date after thisUpdate/);
  });
});

describe('revoke of an unknown serial', () => {
  it('names the serial and where to look; a malformed serial or reason is invalid input', async () => {
    const local = createLocalCa({ ca, store: createMemoryLocalCaStore() });
    const issued = await local.issue({ cn: 'alice' });
    expectTyped(await failure(local.revoke('0123456789abcdef')), 'ERR_CERTGEN_UNKNOWN_SERIAL', /no certificate with serial 123456789abcdef was issued by this CA \(see harper-tls cert list\)/);
    expectTyped(await failure(local.revoke('12:34:AB')), 'ERR_CERTGEN_UNKNOWN_SERIAL', /serial 1234ab/);
    expectTyped(await failure(local.revoke('not-a-serial')), 'ERR_CERTGEN_INVALID_INPUT', /serial "not-a-serial" is not a hexadecimal number of at most 20 bytes/);
    expectTyped(await failure(local.revoke('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')), 'ERR_CERTGEN_INVALID_INPUT', /the certificate cannot be read/);
    expectTyped(await failure(local.revoke(issued.serialHex, 'lostIt' as never)), 'ERR_CERTGEN_INVALID_INPUT', /reason must be one of unspecified, keyCompromise, .*; got "lostIt"/);
    // removeFromCRL is not a revocation (RFC 5280 section 5.3.1): refused, and the record stays good.
    expectTyped(await failure(local.revoke(issued.serialHex, 'removeFromCRL' as never)), 'ERR_CERTGEN_INVALID_INPUT', /reason removeFromCRL does not revoke a certificate .*use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise$/);
    expect(await local.status(issued.serialHex)).toEqual({ status: 'good' });
    // the serial as openssl prints it (upper case, colons) finds the record
    const colon = issued.serialHex.toUpperCase().match(/../g)!.join(':');
    await expect(local.revoke(colon, 'superseded')).resolves.toMatchObject({ status: 'revoked', reason: 'superseded' });
  });
});

describe('keys and issuers', () => {
  it('an unreadable or mismatched CA key is ERR_CERTGEN_KEY; a leaf as issuer is invalid input', async () => {
    const other = await createCA({ commonName: 'Other' });
    expectTyped(await failure(createCrl({ ca: { certificatePem: ca.certificatePem, privateKeyPem: 'garbage' }, revoked: [], crlNumber: 1, nextUpdate: new Date(Date.now() + 1000) })), 'ERR_CERTGEN_KEY', /the CA private key cannot be read/);
    expectTyped(await failure(createCrl({ ca: { certificatePem: ca.certificatePem, privateKeyPem: other.privateKeyPem }, revoked: [], crlNumber: 1, nextUpdate: new Date(Date.now() + 1000) })), 'ERR_CERTGEN_KEY', /does not match the CA certificate/);
    expectTyped(await failure(issueCertificate({ ca: { ...ca, privateKeyPem: 'garbage' }, kind: 'client', commonName: 'x' })), 'ERR_CERTGEN_KEY', /the private key cannot be read/);
    expectTyped(await failure(issueCertificate({ ca: { ...ca, privateKeyPem: other.privateKeyPem }, kind: 'client', commonName: 'x' })), 'ERR_CERTGEN_KEY', /the CA private key does not match the CA certificate/);
    expectTyped(await failure(createCA({ commonName: 'Sub', issuer: { ...ca, privateKeyPem: other.privateKeyPem } })), 'ERR_CERTGEN_KEY', /does not match/);
    const leaf = await issueCertificate({ ca, kind: 'client', commonName: 'leaf' });
    expectTyped(await failure(createCA({ commonName: 'Sub', issuer: leaf })), 'ERR_CERTGEN_INVALID_INPUT', /the issuer certificate is not a CA/);
    expectTyped(await failure(issueCertificate({ ca: leaf, kind: 'client', commonName: 'x' })), 'ERR_CERTGEN_INVALID_INPUT', /not a CA \(basicConstraints cA=FALSE\)/);
  });
});

describe('error codes', () => {
  it('every ERR_CERTGEN_* code used in src/ is documented in errors.ts and the README', () => {
    const dir = join(import.meta.dirname, '..', 'src');
    const used = new Set<string>();
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else for (const m of readFileSync(join(d, e.name), 'utf8').matchAll(/'(ERR_CERTGEN_[A-Z_]+)'/g)) used.add(m[1]!);
      }
    };
    walk(dir);
    expect(used.size).toBeGreaterThanOrEqual(4);
    const errorsDoc = readFileSync(join(dir, 'errors.ts'), 'utf8');
    const readme = readFileSync(join(dir, '..', 'README.md'), 'utf8');
    for (const code of used) {
      expect(errorsDoc, code).toContain(`${code}:`);
      expect(readme, code).toContain(`\`${code}\``);
    }
  });
});
