import { beforeAll, describe, expect, it } from 'vitest';
import { createCA, createLocalCa, createMemoryLocalCaStore, type KeyAndCert } from '@harper-tls/cert-gen';
import { localCaOperations } from '../../src/operations/local-ca.js';
import type { Caller } from '../../src/operations/types.js';

const admin: Caller = { username: 'admin', role: 'super_user', method: 'basic' };

describe('revoke_certificate', () => {
  let root: KeyAndCert;
  beforeAll(async () => {
    root = await createCA({ commonName: 'Operations Test CA' });
  });

  it('reason removeFromCRL is a 400 naming the reason (it would put a "not revoked" entry on the CRL); nothing is revoked', async () => {
    const ca = createLocalCa({ ca: root, store: createMemoryLocalCaStore() });
    const issued = await ca.issue({ cn: 'alice' });
    let bumps = 0;
    const op = localCaOperations(ca, () => void bumps++);
    const r = await op({ operation: 'revoke_certificate', serial: issued.serialHex, reason: 'removeFromCRL' }, admin);
    expect(r).toEqual({ status: 400, body: { error: expect.stringMatching(/^reason removeFromCRL does not revoke a certificate \(RFC 5280 section 5\.3\.1.*use one of unspecified, keyCompromise/) } });
    expect([bumps, await ca.status(issued.serialHex)]).toEqual([0, { status: 'good' }]);
    const ok = await op({ operation: 'revoke_certificate', serial: issued.serialHex, reason: 'keyCompromise' }, admin);
    expect(ok).toMatchObject({ status: 200, body: { serial: issued.serialHex, reason: 'keyCompromise' } });
    expect(bumps).toBe(1);
  });
});
