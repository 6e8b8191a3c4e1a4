import { afterEach, describe, expect, it } from 'vitest';
import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, unlinkSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, ensureSelfSignedCertificates, expiringWithin, renewSelfSignedCertificates } from '../src/index.js';
import { openssl, tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t?.cleanup());
const read = (f: string) => readFileSync(join(t.dir, 'keys', f), 'utf8');

describe('ensureSelfSignedCertificates', () => {
  it('generates a CA and a server certificate openssl accepts, keys 0600, and reuses them', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    const first = await ensureSelfSignedCertificates({ keysDir: keys });
    expect(first.generated).toBe(true);
    expect(statSync(keys).isDirectory()).toBe(true);
    for (const f of ['ca-privateKey.pem', 'privateKey.pem']) expect(statSync(join(keys, f)).mode & 0o777).toBe(0o600);
    for (const f of ['ca.pem', 'certificate.pem']) expect(statSync(join(keys, f)).mode & 0o777).toBe(0o644);
    expect(openssl(['verify', '-CAfile', join(keys, 'ca.pem'), '-purpose', 'sslserver', join(keys, 'certificate.pem')]).trim()).toMatch(/OK$/);
    const sans = new X509Certificate(read('certificate.pem')).subjectAltName!;
    expect(sans).toContain('DNS:localhost');
    expect(sans).toContain('IP Address:127.0.0.1');
    expect(sans).toContain('IP Address:0:0:0:0:0:0:0:1');
    expect(readdirSync(keys).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const before = read('certificate.pem');
    const second = await ensureSelfSignedCertificates({ keysDir: keys });
    expect(second.generated).toBe(false);
    expect(read('certificate.pem')).toBe(before);
  });

  it('reissues only the missing server pair under the existing CA', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    const ca = read('ca.pem');
    unlinkSync(join(keys, 'certificate.pem'));
    expect((await ensureSelfSignedCertificates({ keysDir: keys })).generated).toBe(true);
    expect(read('ca.pem')).toBe(ca);
    expect(openssl(['verify', '-CAfile', join(keys, 'ca.pem'), join(keys, 'certificate.pem')]).trim()).toMatch(/OK$/);
  });

  it('never replaces half of a pair the user supplied', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    writeFileSync(join(keys, 'privateKey.pem'), 'my own key\n');
    unlinkSync(join(keys, 'certificate.pem'));
    await expect(ensureSelfSignedCertificates({ keysDir: keys })).rejects.toMatchObject({ code: 'ERR_CERTGEN_FILES', message: expect.stringContaining('will not replace it') });
    expect(read('privateKey.pem')).toBe('my own key\n');
  });
});

describe('a ca.pem the user replaced with their own CA (SPEC.md section 1: kept and reused)', () => {
  async function replacedCa() {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    const own = await createCA({ commonName: 'My client CA', days: 30 });
    writeFileSync(join(keys, 'ca.pem'), own.certificatePem);
    const before = Object.fromEntries(['ca.pem', 'ca-privateKey.pem', 'certificate.pem', 'privateKey.pem'].map((f) => [f, read(f)]));
    return { keys, own, before };
  }

  it('start reuses every file, the generated ca-privateKey.pem beside it being no error', async () => {
    const { keys, own, before } = await replacedCa();
    const r = await ensureSelfSignedCertificates({ keysDir: keys });
    expect(r).toMatchObject({ generated: false, repaired: [] });
    for (const [f, text] of Object.entries(before)) expect(read(f)).toBe(text);
    expect(read('ca.pem')).toBe(own.certificatePem);
  });

  it('a missing server pair cannot be issued and the error says the local CA is not available', async () => {
    const { keys } = await replacedCa();
    unlinkSync(join(keys, 'certificate.pem'));
    unlinkSync(join(keys, 'privateKey.pem'));
    await expect(ensureSelfSignedCertificates({ keysDir: keys })).rejects.toMatchObject({ code: 'ERR_CERTGEN_FILES', message: expect.stringMatching(/ca\.pem is not the CA harper-tls generated \(it was replaced\).*there is no local CA; supply certificate\.pem and privateKey\.pem yourself/) });
  });

  it('renew-certs keeps every file and says why the server certificate is not reissued', async () => {
    const { keys, before } = await replacedCa();
    const r = await renewSelfSignedCertificates({ keysDir: keys });
    expect(r.renewed).toEqual([]);
    expect(r.skipped).toEqual([{ file: join(keys, 'certificate.pem'), reason: expect.stringContaining('cannot be reissued: ') }]);
    expect(r.skipped[0]!.reason).toContain('there is no local CA');
    const withCa = await renewSelfSignedCertificates({ keysDir: keys, renewCa: true });
    expect(withCa.skipped.map((s) => s.file)).toEqual([join(keys, 'ca.pem'), join(keys, 'certificate.pem')]);
    for (const [f, text] of Object.entries(before)) expect(read(f)).toBe(text);
  });

  it('a pair the user supplied that does not match is still an error', async () => {
    const { keys } = await replacedCa();
    writeFileSync(join(keys, 'ca-privateKey.pem'), (await createCA({ commonName: 'Other', days: 30 })).privateKeyPem);
    await expect(ensureSelfSignedCertificates({ keysDir: keys })).rejects.toMatchObject({ code: 'ERR_CERTGEN_FILES', message: expect.stringContaining('does not match') });
  });
});

describe('ensureSelfSignedCertificates after a crash in renew-certs', () => {
  /** What a kill -9 between the two atomic writes of a renewal leaves: `file` rewritten (and recorded in the manifest), its partner not. */
  function halfRenewed(keys: string, file: string, text: string): void {
    const manifestPath = join(keys, '.harper-tls-generated.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.files[file] = createHash('sha256').update(text).digest('hex');
    writeFileSync(manifestPath, JSON.stringify(manifest));
    writeFileSync(join(keys, file), text, { mode: 0o600 });
  }
  const otherKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

  it('regenerates a generated server pair whose key no longer matches its certificate', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    const ca = read('ca.pem');
    halfRenewed(keys, 'privateKey.pem', otherKey());
    const r = await ensureSelfSignedCertificates({ keysDir: keys });
    expect(r.repaired).toEqual([join(keys, 'certificate.pem'), join(keys, 'privateKey.pem')]);
    expect(new X509Certificate(read('certificate.pem')).checkPrivateKey(createPrivateKey(read('privateKey.pem')))).toBe(true);
    expect(read('ca.pem')).toBe(ca);
  });

  it('regenerates a generated CA whose key no longer matches, and the server certificate under it', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    halfRenewed(keys, 'ca-privateKey.pem', otherKey());
    const r = await ensureSelfSignedCertificates({ keysDir: keys });
    expect(r.repaired).toEqual([join(keys, 'ca.pem'), join(keys, 'ca-privateKey.pem')]);
    expect(openssl(['verify', '-CAfile', join(keys, 'ca.pem'), join(keys, 'certificate.pem')]).trim()).toMatch(/OK$/);
    await expect(renewSelfSignedCertificates({ keysDir: keys })).resolves.toMatchObject({ renewed: [join(keys, 'certificate.pem'), join(keys, 'privateKey.pem')] });
  });

  it('reissues a generated server certificate left signed by a CA that was renewed', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    const oldServer = read('certificate.pem');
    const oldKey = read('privateKey.pem');
    await renewSelfSignedCertificates({ keysDir: keys, renewCa: true });
    halfRenewed(keys, 'certificate.pem', oldServer);
    halfRenewed(keys, 'privateKey.pem', oldKey);
    expect(() => openssl(['verify', '-CAfile', join(keys, 'ca.pem'), join(keys, 'certificate.pem')])).toThrow();
    const r = await ensureSelfSignedCertificates({ keysDir: keys });
    expect(r.repaired).toContain(join(keys, 'certificate.pem'));
    expect(openssl(['verify', '-CAfile', join(keys, 'ca.pem'), join(keys, 'certificate.pem')]).trim()).toMatch(/OK$/);
  });

  it('never touches a mismatched pair the user supplied (configuration validation reports it)', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    const mine = otherKey();
    writeFileSync(join(keys, 'privateKey.pem'), mine);
    const r = await ensureSelfSignedCertificates({ keysDir: keys });
    expect(r).toMatchObject({ generated: false, repaired: [] });
    expect(read('privateKey.pem')).toBe(mine);
  });
});

describe('renewSelfSignedCertificates', () => {
  it('renews the generated server certificate and keeps the CA unless it is due', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    const ca = read('ca.pem');
    const cert = read('certificate.pem');
    const r = await renewSelfSignedCertificates({ keysDir: keys });
    expect(r.renewed).toEqual([join(keys, 'certificate.pem'), join(keys, 'privateKey.pem')]);
    expect(read('ca.pem')).toBe(ca);
    expect(read('certificate.pem')).not.toBe(cert);
    const due = await renewSelfSignedCertificates({ keysDir: keys, now: () => new Date(Date.now() + 3640 * 86_400_000) });
    expect(due.renewed).toContain(join(keys, 'ca.pem'));
    expect(read('ca.pem')).not.toBe(ca);
  });

  it('leaves user-supplied certificates alone and says so', async () => {
    t = tempDir();
    const keys = join(t.dir, 'keys');
    await ensureSelfSignedCertificates({ keysDir: keys });
    writeFileSync(join(keys, 'certificate.pem'), read('certificate.pem') + '\n'); // "changed since": no longer ours
    const mine = read('certificate.pem');
    const r = await renewSelfSignedCertificates({ keysDir: keys, renewCa: true });
    expect(r.skipped).toEqual([expect.objectContaining({ file: join(keys, 'certificate.pem') })]);
    expect(read('certificate.pem')).toBe(mine);
  });
});

describe('expiringWithin', () => {
  it('compares notAfter with now + days', async () => {
    t = tempDir();
    await ensureSelfSignedCertificates({ keysDir: join(t.dir, 'keys') });
    const pem = read('certificate.pem');
    expect(expiringWithin(pem, 30)).toBe(false);
    expect(expiringWithin(pem, 400)).toBe(true);
  });
});
