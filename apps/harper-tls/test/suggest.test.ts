import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../src/suggest.js';

describe('did-you-mean', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps as one edit', () => {
    expect(editDistance('servname', 'servername')).toBe(2);
    expect(editDistance('roto', 'root')).toBe(1);
    expect(editDistance('doctor', 'doctor')).toBe(0);
  });

  it('suggests the closest name within a third of its length, or the only name it prefixes', () => {
    const flags = ['root', 'config', 'cert', 'api', 'servername'];
    expect(closest('servname', flags)).toBe('servername');
    expect(closest('rot', flags)).toBe('root');
    expect(closest('serv', flags)).toBe('servername');
    expect(closest('CERT', flags)).toBe('cert');
    expect(closest('verbose', flags)).toBeUndefined();
    expect(closest('x', flags)).toBeUndefined();
    expect(closest('rsa4096', ['ec-p256', 'rsa-2048', 'rsa-4096'])).toBe('rsa-4096');
  });
});
