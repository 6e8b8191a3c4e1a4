import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyClientChain } from '../src/chain.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'pkits');
const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')) as {
  validationTime: string;
  cases: Array<{ id: string; title: string; chain: string[]; expected: 'valid' | 'invalid' }>;
};
const at = new Date(manifest.validationTime);
const cert = (name: string) => new X509Certificate(readFileSync(join(ROOT, 'certs', `${name}.crt`)));

/**
 * NIST PKITS 4.6 (basic constraints, path length), 4.7.1-3 (keyCertSign), 4.13 (name
 * constraints: DN, RFC822, DNS, URI) and 4.16 (unknown critical extension) through
 * verifyClientChain, the only chain check of a forwarded certificate or of one under
 * `required: false`: the outcome a handshake would give.
 */
describe('NIST PKITS path cases through verifyClientChain', () => {
  it('has the 60 cases', () => expect(manifest.cases).toHaveLength(60));
  it.each(manifest.cases.map((c) => [`${c.id} ${c.title}`, c] as const))('%s', (_name, c) => {
    const [anchor, ...rest] = c.chain.map(cert);
    const leaf = rest.pop()!;
    const r = verifyClientChain([leaf, ...rest.reverse()], [anchor!], at);
    expect({ outcome: r.ok ? 'valid' : 'invalid', reason: r.ok ? undefined : r.reason }).toMatchObject({ outcome: c.expected });
  });
});
