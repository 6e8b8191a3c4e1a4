import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { authorizeLocal, isLocalRequest, isLoopback } from '../../src/http/authorize-local.js';
import type { AuthOutcome } from '../../src/server.js';

const req = (remoteAddress: string | undefined, headers: Record<string, string> = {}) => ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;
const refused: AuthOutcome = { ok: false, status: 401, error: 'Login failed', reason: 'no credentials' };
const admin = async () => ({ username: 'admin', role: 'super_user', active: true });

describe('authorizeLocal', () => {
  it('loopback is 127.0.0.0/8, ::1 and mapped 127.x; nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '::', '127.0.0.1.evil', undefined, '']) expect(isLoopback(a)).toBe(false);
  });

  it('a forwarded address, a proxy or a remote peer is never local; the domain socket is', () => {
    expect(isLocalRequest(req('127.0.0.1'), { viaSocket: false })).toBe(true);
    expect(isLocalRequest(req(undefined), { viaSocket: true })).toBe(true);
    expect(isLocalRequest(req('10.1.1.1'), { viaSocket: false })).toBe(false);
    for (const h of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      expect(isLocalRequest(req('127.0.0.1', { [h]: '203.0.113.9' }), { viaSocket: false })).toBe(false);
      expect(isLocalRequest(req(undefined, { [h]: '203.0.113.9' }), { viaSocket: true })).toBe(false);
    }
    expect(isLocalRequest(req('127.0.0.1'), { viaSocket: false, cameThroughProxy: () => true })).toBe(false);
  });

  it('only a local request without credentials becomes the admin; credentials keep their own answer', async () => {
    const check = authorizeLocal(async () => refused, { viaSocket: false, admin });
    expect(await check(req('127.0.0.1'))).toEqual({ ok: true, user: { username: 'admin', role: 'super_user' }, method: 'local' });
    expect(await check(req('127.0.0.1', { authorization: 'Basic d3Jvbmc6d3Jvbmc=' }))).toBe(refused);
    expect(await check(req('192.0.2.1'))).toBe(refused);
    const inactive = authorizeLocal(async () => refused, { viaSocket: false, admin: async () => ({ username: 'admin', role: 'super_user', active: false }) });
    expect(await inactive(req('127.0.0.1'))).toBe(refused);
    const gone = authorizeLocal(async () => refused, { viaSocket: false, admin: async () => undefined });
    expect(await gone(req('127.0.0.1'))).toBe(refused);
  });
});
