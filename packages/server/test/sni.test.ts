import { describe, expect, it } from 'vitest';
import { hostMatches, selectByHost } from '../src/tls/sni.js';

describe('hostMatches', () => {
  it('matches exact names case-insensitively and ignores a trailing dot', () => {
    expect(hostMatches('Example.COM', 'example.com.')).toBe(true);
    expect(hostMatches('example.com', 'www.example.com')).toBe(false);
  });
  it('lets a wildcard cover exactly one label', () => {
    expect(hostMatches('*.example.com', 'a.example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostMatches('*.example.com', 'a.b.example.com')).toBe(false);
    expect(hostMatches('*.example.com', 'aexample.com')).toBe(false);
  });
});

describe('selectByHost', () => {
  const entries = [{ hosts: ['*.example.com'] }, { hosts: ['api.example.com'] }, { hosts: ['*.a.example.com', 'other.org'] }];
  it('prefers an exact name over a wildcard, whatever the order', () => {
    expect(selectByHost(entries, 'api.example.com')).toBe(1);
    expect(selectByHost(entries, 'www.example.com')).toBe(0);
    expect(selectByHost(entries, 'x.a.example.com')).toBe(2);
    expect(selectByHost(entries, 'OTHER.org')).toBe(2);
  });
  it('returns undefined without SNI or without a match', () => {
    expect(selectByHost(entries, undefined)).toBeUndefined();
    expect(selectByHost(entries, 'nowhere.net')).toBeUndefined();
  });
});
