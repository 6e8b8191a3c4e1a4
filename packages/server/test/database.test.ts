import { describe, expect, it } from 'vitest';
import { storeWrite } from '../src/database.js';
import { ServerError } from '../src/errors.js';

describe('storeWrite', () => {
  it('passes a successful write through', async () => {
    await expect(storeWrite('k', async () => 42)).resolves.toBe(42);
  });

  it("turns lmdb's failed commit into ERR_SERVER_DATABASE with the cause from commitError, and handles that promise", async () => {
    const commitError = Promise.reject(Object.assign(new Error('No space left on device'), { code: 28 }));
    const failed = Object.assign(new Error('Commit failed (see commitError for details)'), { commitError });
    const err = await storeWrite('cert:x', () => Promise.reject(failed)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).code).toBe('ERR_SERVER_DATABASE');
    expect((err as Error).message).toBe('the database could not be written (cert:x): No space left on device');
  });

  it('wraps any other write error with its own message', async () => {
    const err = await storeWrite('k', () => Promise.reject(new Error('read-only'))).catch((e: unknown) => e);
    expect((err as ServerError).code).toBe('ERR_SERVER_DATABASE');
    expect((err as Error).message).toContain('read-only');
  });
});
