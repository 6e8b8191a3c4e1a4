import { describe, expect, it } from 'vitest';
import { parseDuration, resolveRootPath } from '../src/index.js';

describe('parseDuration', () => {
  it.each([
    ['1d', 86_400_000],
    ['30d', 2_592_000_000],
    ['12h', 43_200_000],
    ['15m', 900_000],
    ['30s', 30_000],
    ['500ms', 500],
    ['2w', 1_209_600_000],
    ['90', 90_000],
    [3600, 3_600_000],
  ])('%j → %d ms', (input, ms) => expect(parseDuration(input)).toBe(ms));

  it.each(['', 'soon', '1y', '-1d', '0', 0, -5, Number.NaN, '1 d x'])('rejects %j', (input) => {
    expect(() => parseDuration(input as string)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_DURATION' }));
  });
});

describe('resolveRootPath', () => {
  it('prefers --root, then ROOTPATH, then ~/hdb, and expands ~', () => {
    expect(resolveRootPath({ root: '/r', env: { ROOTPATH: '/e' }, homedir: '/h' })).toBe('/r');
    expect(resolveRootPath({ env: { ROOTPATH: '~/e' }, homedir: '/h' })).toBe('/h/e');
    expect(resolveRootPath({ env: {}, homedir: '/h' })).toBe('/h/hdb');
  });
});
