import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSelfSignedCertificates } from '@harper-tls/cert-gen';
import { runToEnd, tempRoot } from './helpers/run.js';

describe('harper-tls cert revoke', () => {
  const { root, cleanup } = tempRoot();
  const issue = async (cn: string): Promise<string> => {
    const r = await runToEnd(['cert', 'issue', '--root', root, '--cn', cn, '--out', join(root, 'out')]);
    expect(r.code).toBe(0);
    return /serial ([0-9a-f]+)/.exec(r.stdout)![1]!;
  };
  const record = async (serial: string) => {
    const list = await runToEnd(['cert', 'list', '--root', root, '--json']);
    return (JSON.parse(list.stdout) as Array<{ serialHex: string }>).find((c) => c.serialHex === serial);
  };

  beforeAll(async () => {
    await ensureSelfSignedCertificates({ keysDir: join(root, 'keys') });
    writeFileSync(join(root, 'harperdb-config.yaml'), 'logging:\n  level: warn\n');
  });
  afterAll(() => cleanup());

  it('--reason removeFromCRL exits 1 with one line (a CRL entry with it means "not revoked"); the record stays good', async () => {
    const serial = await issue('rita');
    const r = await runToEnd(['cert', 'revoke', '--root', root, '--serial', serial, '--reason', 'removeFromCRL']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^harper-tls cert revoke: --reason removeFromCRL does not revoke a certificate \(RFC 5280 section 5\.3\.1: it is only for delta CRLs, where it takes a certificate off the CRL\); use one of unspecified, keyCompromise, [a-zA-Z, ]+$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await record(serial)).toMatchObject({ status: 'good' });
  });

  it('revoking an already-revoked serial with another reason prints the stored reason and date ("already revoked on"); the record keeps the first', async () => {
    const serial = await issue('otto');
    const first = await runToEnd(['cert', 'revoke', '--root', root, '--serial', serial, '--reason', 'keyCompromise']);
    expect([first.code, first.stdout]).toEqual([0, `Revoked serial ${serial} (keyCompromise)\n`]);
    const stored = (await record(serial)) as unknown as { status: string; reason: string; revokedAt: string };
    expect(stored).toMatchObject({ status: 'revoked', reason: 'keyCompromise' });
    const again = await runToEnd(['cert', 'revoke', '--root', root, join(root, 'out', 'otto.pem'), '--reason', 'superseded']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Serial ${serial} already revoked on ${stored.revokedAt} (keyCompromise): the record is kept as it was; --reason superseded not applied\n`);
    expect(await record(serial)).toEqual(stored);
  });
});
