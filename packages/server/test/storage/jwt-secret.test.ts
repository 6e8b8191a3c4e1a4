import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecret } from '../../src/storage/jwt-secret.js';

describe('loadOrCreateSecret', () => {
  it('creates <dir>/.jwt-secret 0600 once and reads it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtls-auth-secret-'));
    const a = await loadOrCreateSecret(dir);
    expect(a.length).toBe(32);
    expect(statSync(join(dir, '.jwt-secret')).mode & 0o777).toBe(0o600);
    expect(Buffer.from(await loadOrCreateSecret(dir)).equals(Buffer.from(a))).toBe(true);
    expect(readdirSync(dir)).toEqual(['.jwt-secret']); // no temp files left behind
  });
});
