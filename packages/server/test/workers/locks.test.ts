import { describe, expect, it } from 'vitest';
import { LockTable } from '../../src/workers/locks.js';

/** The primary's node-wide locks: one holder per key, FIFO, and a dead worker's locks released. */
describe('LockTable', () => {
  it('grants one holder per key at a time, in arrival order, others keys independently', () => {
    const t = new LockTable();
    const granted: string[] = [];
    t.acquire('crl:a', 1, 10, () => granted.push('w1'));
    t.acquire('crl:a', 2, 20, () => granted.push('w2'));
    t.acquire('crl:a', 3, 30, () => granted.push('w3'));
    t.acquire('crl:b', 2, 21, () => granted.push('w2-b'));
    expect(granted).toEqual(['w1', 'w2-b']);
    t.release(1, 10);
    expect(granted).toEqual(['w1', 'w2-b', 'w2']);
    t.release(2, 20);
    t.release(3, 30);
    t.release(2, 21);
    expect(granted).toEqual(['w1', 'w2-b', 'w2', 'w3']);
    expect(t.size).toBe(0);
  });

  it('a worker that dies releases what it held and what it waited for; the next waiter gets it', () => {
    const t = new LockTable();
    const granted: string[] = [];
    t.acquire('k', 1, 1, () => granted.push('w1'));
    t.acquire('k', 2, 2, () => granted.push('w2'));
    t.acquire('k', 1, 3, () => granted.push('w1 again'));
    t.acquire('k', 3, 4, () => granted.push('w3'));
    t.releaseAll(1);
    expect(granted).toEqual(['w1', 'w2']);
    t.release(2, 2);
    expect(granted).toEqual(['w1', 'w2', 'w3']);
    // Releasing a waiter (not the holder) grants nothing new.
    t.acquire('k', 4, 5, () => granted.push('w4'));
    t.acquire('k', 5, 6, () => granted.push('w5'));
    t.release(5, 6);
    expect(granted).toEqual(['w1', 'w2', 'w3']);
    t.release(3, 4);
    expect(granted).toEqual(['w1', 'w2', 'w3', 'w4']);
  });
});
