import { describe, expect, it } from 'vitest';
import { innerPath, isServerPath, matchApplication } from '../../src/applications/router.js';

const apps = [{ path: '/' }, { path: '/api' }, { path: '/api/v2' }, { path: '/static' }];

describe('matchApplication', () => {
  it('longest prefix at a / boundary', () => {
    expect(matchApplication(apps, '/api')?.path).toBe('/api');
    expect(matchApplication(apps, '/api/')?.path).toBe('/api');
    expect(matchApplication(apps, '/api/v2/x')?.path).toBe('/api/v2');
    expect(matchApplication(apps, '/api/v20')?.path).toBe('/api');
    expect(matchApplication(apps, '/apix')?.path).toBe('/');
    expect(matchApplication(apps.slice(1), '/apix')).toBeUndefined();
    expect(matchApplication(apps.slice(1), '/')).toBeUndefined();
  });
  it('innerPath strips the prefix only when asked, always keeping a leading /', () => {
    const a = { path: '/api', stripPrefix: true } as never;
    expect(innerPath(a, '/api')).toBe('/');
    expect(innerPath(a, '/api/x/y')).toBe('/x/y');
    expect(innerPath({ path: '/api', stripPrefix: false } as never, '/api/x')).toBe('/api/x');
    expect(innerPath({ path: '/', stripPrefix: true } as never, '/x')).toBe('/x');
  });
  it("the server's own paths", () => {
    for (const p of ['/health', '/whoami', '/metrics', '/ca', '/ca/crl']) expect(isServerPath(p)).toBe(true);
    for (const p of ['/healthz', '/cab', '/api']) expect(isServerPath(p)).toBe(false);
  });
});

describe('matchApplication with ;parameters', () => {
  it('matches on the path without segment parameters; stripPrefix drops whole segments', () => {
    expect(matchApplication(apps, '/api;x=1/y')?.path).toBe('/api');
    expect(matchApplication(apps, '/api;x/v2;y/z')?.path).toBe('/api/v2');
    expect(innerPath({ path: '/api', stripPrefix: true } as never, '/api;x/y;z')).toBe('/y;z');
    expect(innerPath({ path: '/api', stripPrefix: true } as never, '/api;x')).toBe('/');
    expect(isServerPath('/whoami;x')).toBe(true);
  });
});
