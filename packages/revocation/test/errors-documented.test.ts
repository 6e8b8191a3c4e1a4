import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));

describe('error codes', () => {
  const codes = new Set(files(join(PKG, 'src')).flatMap((f) => readFileSync(f, 'utf8').match(/'ERR_REVOCATION_[A-Z_]+'/g) ?? []).map((c) => c.slice(1, -1)));
  it('the source uses a known set of codes', () => expect(codes.size).toBeGreaterThanOrEqual(5));
  it.each([...codes])('%s is documented in the README', (code) => {
    expect(readFileSync(join(PKG, 'README.md'), 'utf8')).toContain(code);
  });
});
