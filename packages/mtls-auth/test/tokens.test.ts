import { describe, expect, it } from 'vitest';
import { mkdtempSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTokenService } from '../src/index.js';

describe('createTokenService', () => {
  let clock = new Date('2026-01-01T00:00:00Z');
  const svc = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 3_600_000, now: () => clock });

  it('issues operation and refresh tokens that are not interchangeable', async () => {
    const t = await svc.createTokens('alice');
    expect(await svc.verifyOperationToken(t.operation_token)).toBe('alice');
    expect(await svc.verifyOperationToken(t.refresh_token)).toBeUndefined();
    expect(await svc.verifyRefreshToken(t.refresh_token)).toBe('alice');
    expect(await svc.verifyRefreshToken(t.operation_token)).toBeUndefined();
  });

  it('expires operation tokens on the injected clock', async () => {
    clock = new Date('2026-01-01T00:00:00Z');
    const t = await svc.createTokens('alice');
    clock = new Date('2026-01-01T00:01:30Z');
    expect(await svc.verifyOperationToken(t.operation_token)).toBeUndefined();
    expect(await svc.verifyRefreshToken(t.refresh_token)).toBe('alice');
    clock = new Date('2026-01-01T02:00:00Z');
    expect(await svc.verifyRefreshToken(t.refresh_token)).toBeUndefined();
  });

  it('rejects tokens signed with another secret, alg none, and garbage', async () => {
    clock = new Date('2026-01-01T00:00:00Z');
    const other = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 60_000, now: () => clock });
    const foreign = (await other.createTokens('alice')).operation_token;
    expect(await svc.verifyOperationToken(foreign)).toBeUndefined();
    const [, payload] = (await svc.createTokens('alice')).operation_token.split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(await svc.verifyOperationToken(none)).toBeUndefined();
    for (const g of ['', 'a.b.c', 'x'.repeat(10_000)]) expect(await svc.verifyOperationToken(g)).toBeUndefined();
  });

  it('refuses a short secret', () => {
    expect(() => createTokenService({ secret: randomBytes(8), operationTokenTimeoutMs: 1, refreshTokenTimeoutMs: 1 })).toThrow(/32 bytes/);
  });
});
