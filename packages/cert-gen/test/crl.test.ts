import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, createCrl, issueCertificate, type KeyAndCert, type KeyType } from '../src/index.js';
import { openssl, tempDir } from './helpers.js';
import { children, read, whole } from '../src/der/read.js';
import { integerFromHex, seq, time, tlv } from '../src/der/write.js';
import { normalizeSerialHex } from '../src/serial.js';

const t = tempDir();
afterAll(() => t.cleanup());

describe('createCrl, verified by openssl crl', () => {
  let ca: KeyAndCert;
  beforeAll(async () => {
    ca = await createCA({ commonName: 'CRL Test CA' });
  });

  it.each(['ec-p256', 'ec-p384', 'ed25519', 'rsa-2048'] as KeyType[])('signs a CRL openssl verifies (%s CA), listing serials and reasons', async (keyType) => {
    const issuer = keyType === 'ec-p256' ? ca : await createCA({ commonName: `CA ${keyType}`, keyType });
    const a = await issueCertificate({ ca: issuer, kind: 'client', commonName: 'a' });
    const der = await createCrl({
      ca: issuer,
      crlNumber: 42,
      thisUpdate: new Date('2026-01-01T00:00:00Z'),
      nextUpdate: new Date('2026-01-02T00:00:00Z'),
      revoked: [
        { serialHex: a.serialHex, revokedAt: new Date('2025-12-31T10:00:00Z'), reason: 'keyCompromise' },
        { serialHex: '01', revokedAt: new Date('2025-12-30T00:00:00Z') },
        { serialHex: 'ff', revokedAt: new Date('2025-12-29T00:00:00Z'), reason: 'superseded' },
      ],
    });
    const file = t.write(`crl-${keyType}.der`, der);
    const caFile = t.write(`ca-${keyType}.pem`, issuer.certificatePem);
    const text = openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', caFile, '-noout', '-text']);
    expect(text).toContain('X509v3 CRL Number: \n                42');
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text.toUpperCase()).toContain(a.serialHex.toUpperCase());
    expect(text).toContain('Key Compromise');
    expect(text).toContain('Superseded');
    expect(text).toMatch(/Serial Number: 01/);
    expect(text).toMatch(/Serial Number: FF/);
    expect(text).toContain('Last Update: Jan  1 00:00:00 2026 GMT');
    expect(text).toContain('Next Update: Jan  2 00:00:00 2026 GMT');
    // -CAfile makes openssl verify the signature; it says so on stderr
    const verify = require_verify(file, caFile);
    expect(verify).toMatch(/verify OK/);
  });

  it('writes an empty CRL without a revokedCertificates field', async () => {
    const der = await createCrl({ ca, crlNumber: 1n, nextUpdate: new Date(Date.now() + 3600_000), revoked: [] });
    const text = openssl(['crl', '-inform', 'DER', '-in', t.write('empty.der', der), '-noout', '-text']);
    expect(text).toContain('No Revoked Certificates.');
  });

  it('writes 100,000 entries quickly and openssl reads them all', async () => {
    const revoked = Array.from({ length: 100_000 }, (_, i) => ({ serialHex: (0x1000000 + i).toString(16), revokedAt: new Date(1_700_000_000_000 + i * 1000), reason: i % 2 ? ('keyCompromise' as const) : undefined }));
    const t0 = performance.now();
    const der = await createCrl({ ca, crlNumber: 7, nextUpdate: new Date(Date.now() + 3600_000), revoked });
    expect(performance.now() - t0).toBeLessThan(5000);
    const file = t.write('big.der', der);
    const count = execFileSync('sh', ['-c', `openssl crl -inform DER -in '${file}' -noout -text | grep -c 'Serial Number:'`], { encoding: 'utf8' });
    expect(Number(count.trim())).toBe(100_000);
  });

  it('writes entries byte for byte like the generic DER writer (odd digits, 00 pad, user-typed serials, GeneralizedTime, same-second runs)', async () => {
    const serials = ['1', 'f', '0x00:ff', '7f', '80', 'AB:CD:EF', '00000001', '0', 'ffffffffffffffffffffffffffffffffffffffff', '4abc', 'deadbeef'];
    const dates = [new Date('2026-05-01T10:00:00.100Z'), new Date('2026-05-01T10:00:00.900Z'), new Date('2051-01-02T03:04:05Z'), new Date('1949-12-31T23:59:59Z'), new Date('2026-05-01T10:00:01Z')];
    const reasons = [undefined, 'keyCompromise', 'certificateHold', 'aACompromise'] as const;
    const revoked = Array.from({ length: 200 }, (_, i) => ({ serialHex: i < serials.length ? serials[i]! : (i * 7919).toString(16), revokedAt: dates[Math.floor(i / 3) % dates.length]!, reason: reasons[i % reasons.length] }));
    const der = await createCrl({ ca, crlNumber: 3, thisUpdate: new Date('2026-05-02T00:00:00Z'), nextUpdate: new Date('2026-05-03T00:00:00Z'), revoked });
    const tbs = children(der, read(der, 0))[0]!;
    const list = children(der, tbs)[5]!;
    const expected = seq(
      ...revoked.map((e) =>
        seq(integerFromHex(normalizeSerialHex(e.serialHex)), time(e.revokedAt), ...(e.reason ? [seq(seq(tlv(0x06, Buffer.from([0x55, 0x1d, 0x15])), tlv(0x04, tlv(0x0a, Buffer.from([{ keyCompromise: 1, certificateHold: 6, aACompromise: 10 }[e.reason]])))))] : [])),
      ),
    );
    expect(Buffer.from(whole(der, list)).toString('hex')).toBe(expected.toString('hex'));
  });

  it.each([
    [{ nextUpdate: new Date(0) }, /nextUpdate must be a date after thisUpdate/],
    [{ revoked: [{ serialHex: 'xyz', revokedAt: new Date() }] }, /not a hexadecimal number/],
    [{ revoked: [{ serialHex: '01', revokedAt: new Date(), reason: 'bored' }] }, /reason must be one of/],
    [{ revoked: [{ serialHex: '01', revokedAt: new Date(), reason: 'toString' }] }, /reason must be one of/],
    // A removeFromCRL entry means "not revoked" (delta CRLs only): never written into a CRL.
    [{ revoked: [{ serialHex: '01', revokedAt: new Date(), reason: 'removeFromCRL' }] }, /reason removeFromCRL does not revoke a certificate \(RFC 5280 section 5\.3\.1/],
    [{ revoked: [{ serialHex: '01', revokedAt: new Date(Number.NaN) }] }, /revokedAt of serial 01 is not a date/],
    [{ revoked: [{ serialHex: '01', revokedAt: '2026-01-01' }] }, /revokedAt of serial 01 is not a date/],
    [{ revoked: [{ serialHex: '01', revokedAt: new Date('+010000-01-01T00:00:00Z') }] }, /outside the years 1 to 9999/],
    [{ crlNumber: -1 }, /crlNumber must not be negative/],
  ])('rejects %j', async (over, message) => {
    await expect(createCrl({ ca, crlNumber: 1, nextUpdate: new Date(Date.now() + 1000), revoked: [], ...(over as object) } as never)).rejects.toThrow(message);
  });
});

import { execFileSync } from 'node:child_process';
function require_verify(file: string, caFile: string): string {
  return execFileSync('sh', ['-c', `openssl crl -inform DER -in '${file}' -CAfile '${caFile}' -noout 2>&1`], { encoding: 'utf8' });
}
