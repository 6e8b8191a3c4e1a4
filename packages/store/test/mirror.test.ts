import { describe, expect, it } from 'vitest';
import { Mirror } from '../src/postgres/mirror.js';

const b = (s: string) => Buffer.from(s);

describe("the node's copy (Mirror)", () => {
  it('applies versions forward only, tells listeners each changed key after it is visible', () => {
    const m = new Mirror();
    m.load(3, [{ ns: 'users', key: 'a', value: b('1') }]);
    const seen: string[] = [];
    m.onChange('users', (k) => seen.push(`${k}=${m.get('users', k)?.toString() ?? '-'}`));
    m.apply(4, [{ ns: 'users', key: 'b', value: b('2') }]);
    m.apply(5, [{ ns: 'users', key: 'a' }]);
    m.apply(4, [{ ns: 'users', key: 'a', value: b('stale') }]); // older than what is applied: ignored
    expect(m.version).toBe(5);
    expect(m.get('users', 'a')).toBeUndefined();
    expect(seen).toEqual(['b=2', 'a=-']);
  });

  it('replace (a full resync) tells the listeners of every key that appeared, changed or went, and of no other', () => {
    const m = new Mirror();
    m.load(3, [
      { ns: 'users', key: 'same', value: b('1') },
      { ns: 'users', key: 'changed', value: b('old') },
      { ns: 'users', key: 'gone', value: b('x') },
    ]);
    const seen: string[] = [];
    m.onChange('users', (k) => seen.push(`${k}=${m.get('users', k)?.toString() ?? '-'}`));
    const n = m.replace(9, [
      { ns: 'users', key: 'same', value: b('1') },
      { ns: 'users', key: 'changed', value: b('new') },
      { ns: 'users', key: 'new', value: b('n') },
    ]);
    expect(n).toBe(3);
    expect(m.version).toBe(9);
    expect(seen.sort()).toEqual(['changed=new', 'gone=-', 'new=n']);
    expect(m.list('users').map(([k]) => k)).toEqual(['changed', 'new', 'same']);
  });

  it('lists a namespace by prefix in key order', () => {
    const m = new Mirror();
    m.load(1, [
      { ns: 'local-ca', key: 'issued:0b', value: b('x') },
      { ns: 'local-ca', key: 'issued:0a', value: b('y') },
      { ns: 'local-ca', key: 'meta:version', value: b('1') },
      { ns: 'other', key: 'issued:00', value: b('z') },
    ]);
    expect(m.list('local-ca', 'issued:').map(([k]) => k)).toEqual(['issued:0a', 'issued:0b']);
    expect(m.size('local-ca')).toBe(3);
  });
});
