import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCrl } from '../../src/crl/parse.js';
import { RevocationError } from '../../src/errors.js';

let dir: string;
let der: Uint8Array;

/** Every parse failure must be a RevocationError, never another exception. */
function expectRevocationError(bytes: Uint8Array): void {
  try {
    parseCrl(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(RevocationError);
    return;
  }
  throw new Error(`parsed ${bytes.length} malformed bytes without error`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rev-crl-malformed-'));
  const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  writeFileSync(join(dir, 'index.txt'), 'R\t301231235959Z\t240101000000Z,keyCompromise\t1A2B\tunknown\t/CN=x\n');
  writeFileSync(join(dir, 'ca.cnf'), '[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\ndefault_md=sha256\ndefault_crl_days=30\ncrlnumber=crlnumber\n');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Malformed CA', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2');
  o('ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-out', 'crl.pem');
  o('crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der');
  der = new Uint8Array(readFileSync(join(dir, 'crl.der')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseCrl on malformed DER', () => {
  it('parses the intact openssl CRL and finds the revoked serial', () => {
    const crl = parseCrl(der);
    expect(crl.size).toBe(1);
    expect(crl.lookup(Uint8Array.from([0x1a, 0x2b]), crl.issuerDer)).toBeDefined();
    expect(crl.lookup(Uint8Array.from([0x1a, 0x2c]), crl.issuerDer)).toBeUndefined();
  });

  it('rejects the CRL truncated at every offset', () => {
    for (let n = 0; n < der.length; n++) expectRevocationError(der.subarray(0, n));
  });

  it('rejects indefinite, overlong and huge lengths and deep nesting', () => {
    expectRevocationError(Uint8Array.from([0x30, 0x80, 0x00, 0x00]));
    expectRevocationError(Uint8Array.from([0x30, 0x81, 0x01, 0x00]));
    expectRevocationError(Uint8Array.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]));
    expectRevocationError(Uint8Array.from([0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const deep = new Uint8Array(2000);
    for (let i = 0; i < 1000; i++) { deep[2 * i] = 0x30; deep[2 * i + 1] = 0x80; }
    expectRevocationError(deep);
  });

  it('rejects random bytes and random single-byte corruptions with a RevocationError only', () => {
    const started = Date.now();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        if (Date.now() - started > 15_000) return;
        expectRevocationError(b);
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const c = der.slice();
        c[i]! ^= x;
        try { parseCrl(c); } catch (e) { expect(e).toBeInstanceOf(RevocationError); }
      }),
      { numRuns: 5_000 },
    );
  });
});
