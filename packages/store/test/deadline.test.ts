import { describe, expect, it } from 'vitest';
import { within } from '../src/postgres/deadline.js';

describe('within', () => {
  it('is the promise when it settles in time (value or error)', async () => {
    await expect(within(Promise.resolve(7), 10_000, 'x')).resolves.toBe(7);
    await expect(within(Promise.reject(new Error('boom')), 10_000, 'x')).rejects.toThrow('boom');
  });

  it('a promise that never settles: ERR_STORE_UNAVAILABLE saying what and how long', async () => {
    await expect(within(new Promise(() => undefined), 20, 'cluster lock ca')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', message: 'cluster lock ca: no answer within 20 ms' });
  });

  it('leaves no timer behind once settled (the process can exit)', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await within(Promise.resolve(1), 60_000, 'x');
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
  });
});
