import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCertificate } from '../src/cert/parse.js';
import { parseCrl } from '../src/crl/parse.js';
import { validatePath } from '../src/path/validate.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'pkits');
const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')) as {
  validationTime: string;
  cases: Array<{ id: string; title: string; revocation: boolean; chain: string[]; crls: string[]; expected: 'valid' | 'invalid' }>;
};
const at = new Date(manifest.validationTime);
const cert = (name: string) => parseCertificate(new Uint8Array(readFileSync(join(ROOT, 'certs', `${name}.crt`))));
const crl = (name: string) => parseCrl(new Uint8Array(readFileSync(join(ROOT, 'crls', `${name}.crl`))));

/**
 * NIST PKITS 1.0.1, sections 4.4 (basic revocation), 4.14 (distribution points) and 4.15
 * (delta CRLs): offline, only the CRLs each case supplies, every certificate below the anchor
 * checked. The manifest's chain holds the anchor first and may hold certificates that are not
 * on the path (separate CRL signers, indirect CRL issuers): they are offered as CRL signers.
 */
describe('NIST PKITS revocation cases', () => {
  const cases = manifest.cases.filter((c) => c.revocation);
  it('has all 66 revocation cases', () => expect(cases).toHaveLength(66));
  it.each(cases.map((c) => [`${c.id} ${c.title}`, c] as const))('%s', (_name, c) => {
    const [anchorName, ...rest] = c.chain;
    const anchors = [cert(anchorName!)];
    const pool = rest.map(cert);
    const leaf = pool[pool.length - 1]!;
    const result = validatePath({ leaf, pool, anchors, at, crls: c.crls.map(crl) });
    expect({ outcome: result.valid ? 'valid' : 'invalid', errors: result.errors }).toMatchObject({ outcome: c.expected });
  });
});
