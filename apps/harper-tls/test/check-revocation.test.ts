import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpensslPki } from '../../../packages/revocation/test/helpers/openssl-pki.js';
import { runToEnd } from './helpers/run.js';

/**
 * `harper-tls check-revocation` run in-process: every NIST PKITS revocation case (sections 4.4,
 * 4.14, 4.15) offline with its CRLs as `--crl` files and `--at` the suite's validation time, and
 * an openssl-made good/revoked pair. Exit codes (SPEC.md section 3): 0 good, 2 revoked,
 * 3 undetermined, 1 bad input.
 */

// The revocation package's copy of the NIST PKITS revocation cases (from the shared conformance
// data), found from this file so the test runs from any clone.
const PKITS = fileURLToPath(new URL('../../../packages/revocation/test/fixtures/pkits', import.meta.url));
if (!existsSync(join(PKITS, 'manifest.json'))) throw new Error(`the PKITS fixtures are missing: ${PKITS}/manifest.json (packages/revocation/test/fixtures/pkits in the repository)`);
const manifest = JSON.parse(readFileSync(join(PKITS, 'manifest.json'), 'utf8')) as {
  validationTime: string;
  cases: Array<{ id: string; title: string; revocation: boolean; chain: string[]; crls: string[]; expected: 'valid' | 'invalid' }>;
};
const certFile = (name: string) => join(PKITS, 'certs', `${name}.crt`);
const crlFile = (name: string) => join(PKITS, 'crls', `${name}.crl`);

describe('check-revocation on NIST PKITS (offline, --crl files, --at)', () => {
  const cases = manifest.cases.filter((c) => c.revocation);
  const outcomes: Array<{ id: string; pass: boolean }> = [];

  it('has the 66 revocation cases', () => expect(cases).toHaveLength(66));

  it.each(cases.map((c) => [`${c.id} ${c.title} → ${c.expected}`, c] as const))('%s', async (_name, c) => {
    // The manifest lists the anchor first, the leaf last and, in between, the path's CAs and any
    // CRL signers off the path: the command finds the path itself (anchor = last --chain).
    const [anchor, ...rest] = c.chain;
    const leaf = rest.pop()!;
    const argv = ['check-revocation', '--cert', certFile(leaf), ...[...rest.reverse(), anchor!].flatMap((n) => ['--chain', certFile(n)]), ...c.crls.flatMap((n) => ['--crl', crlFile(n)]), '--at', manifest.validationTime, '--no-fetch', '--json'];
    const r = await runToEnd(argv);
    // valid: every certificate good (0). invalid: revoked (2) or undetermined (3), never good and
    // never a bad-input error (1): the inputs are a well-formed chain and CRLs.
    const pass = c.expected === 'valid' ? r.code === 0 : r.code === 2 || r.code === 3;
    outcomes.push({ id: c.id, pass });
    expect({ code: r.code, stderr: r.stderr, out: r.code === 1 ? r.stdout : '' }).toMatchObject({ code: c.expected === 'valid' ? 0 : expect.toSatisfy((x: number) => x === 2 || x === 3) });
  });

  afterAll(() => {
    const passed = outcomes.filter((o) => o.pass).length;
    process.stdout.write(`PKITS via check-revocation: ${passed}/${outcomes.length}\n`);
  });
});

describe('check-revocation on an openssl-made pair', () => {
  const pki = new OpensslPki();
  beforeAll(() => {
    pki.ca('ca');
    pki.issue('alice', 'ca', '5001');
    pki.issue('bob', 'ca', '5002');
    pki.revoke('bob', 'ca', 'keyCompromise');
    pki.crl('ca');
  });
  afterAll(() => pki.cleanup());

  const args = (name: string, ...more: string[]) => ['check-revocation', '--cert', pki.path(`${name}.crt`), '--chain', pki.path('ca.crt'), ...more];

  it('good: exit 0, DER CRL', async () => {
    const r = await runToEnd(args('alice', '--crl', pki.path('ca.crl'), '--no-fetch'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Result: good/);
  });

  it('revoked: exit 2 with the reason, PEM CRL, JSON verdict', async () => {
    const r = await runToEnd(args('bob', '--crl', pki.path('ca.crl.pem'), '--no-fetch', '--json'));
    expect(r.code).toBe(2);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ status: 'revoked', allowed: false });
    expect(v.certificates[0]).toMatchObject({ status: 'revoked', method: 'crl', reason: 'keyCompromise' });
  });

  it('undetermined without any CRL or responder: exit 3', async () => {
    const r = await runToEnd(args('alice', '--no-fetch'));
    expect(r.code).toBe(3);
  });

  it('bad input: exit 1 with a one-line reason', async () => {
    expect((await runToEnd(args('alice', '--at', 'yesterday'))).code).toBe(1);
    expect((await runToEnd(['check-revocation', '--chain', pki.path('ca.crt')])).code).toBe(1);
    const wrong = await runToEnd(['check-revocation', '--cert', pki.path('alice.crt'), '--chain', pki.path('alice.crt')]);
    expect(wrong.code).toBe(1);
  });
});
