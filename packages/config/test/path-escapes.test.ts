import { describe, expect, it } from 'vitest';
import { normalizePathEscapes } from '../src/index.js';

describe('normalizePathEscapes', () => {
  it('decodes unreserved escapes and upper-cases the others; a path without % is itself', () => {
    expect(normalizePathEscapes('/%61dmin/%7euser/%3a')).toEqual({ path: '/admin/~user/%3A', encodedSeparator: false });
    expect(normalizePathEscapes('/caf%c3%a9')).toEqual({ path: '/caf%C3%A9', encodedSeparator: false });
    expect(normalizePathEscapes('/plain')).toEqual({ path: '/plain', encodedSeparator: false });
  });
  it('flags an encoded / or \\ and keeps it escaped', () => {
    expect(normalizePathEscapes('/a%2fb%5c')).toEqual({ path: '/a%2Fb%5C', encodedSeparator: true });
  });
  it('names the first refusal: an encoded NUL or a stray %', () => {
    expect(normalizePathEscapes('/a%00b%')).toMatchObject({ refused: 'nul' });
    expect(normalizePathEscapes('/a%zz%00')).toMatchObject({ refused: 'stray-percent' });
  });
});
