import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsEntry, PemSource } from '@harper-tls/config';
import { CertificateRegistry, type CertificateStore } from '../../src/certificates/registry.js';
import { fileKeyStore } from '../../src/certificates/key-files.js';
import { clusterKeySealer, keySealer } from '../../src/cluster/key-sealer.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { memoryLogger } from '../helpers/logger.js';

/**
 * SPEC.md section 10: a run-time certificate added with its key on one node is served by every
 * node, its key in the shared store only sealed under the local CA. Two registries over one
 * store stand for two nodes (each its own key directory); the cluster test runs it end to end.
 */
const fileSource = (path: string): PemSource => ({ kind: 'file', value: path, isDefault: false, origin: 'test' });

function mapStore(): CertificateStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    get: async (k) => map.get(k),
    put: async (k, v) => void map.set(k, v),
    remove: async (k) => void map.delete(k),
    list: async (prefix) => [...map].filter(([k]) => k.startsWith(prefix)).sort(),
  };
}

let pki: TestPki;
const dir = mkdtempSync(join(tmpdir(), 'shared-keys-'));
const entry = (): TlsEntry => ({ certificate: fileSource(pki.file('server.pem')), privateKey: fileSource(pki.file('server.key')), certificateAuthority: fileSource(pki.file('caA.pem')) });
const served = (r: CertificateRegistry) => r.contexts('https').material.entries.map((e) => e.name);

beforeAll(() => {
  pki = createTestPki();
  pki.ca('caA');
  pki.ca('other');
  pki.leaf('server', 'caA', { cn: 'localhost', sans: 'DNS:localhost' });
  pki.leaf('shop', 'caA', { cn: 'shop.test', sans: 'DNS:shop.test' });
  pki.leaf('blog', 'caA', { cn: 'blog.test', sans: 'DNS:blog.test' });
});
afterAll(() => {
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('the key sealer', () => {
  it('opens what it sealed for the same name only; another CA key or an altered byte is refused', () => {
    const s = clusterKeySealer(pki.read('caA.key'));
    const pem = pki.read('shop.key');
    const sealed = s.seal('shop', pem);
    expect(sealed).toMatch(/^aes-256-gcm\.v1:[^:]+:[^:]+:[^:]+$/);
    expect(sealed).not.toContain('PRIVATE KEY');
    expect(s.seal('shop', pem)).not.toBe(sealed); // a fresh nonce each time
    expect(s.open('shop', sealed)).toBe(pem);
    expect(() => s.open('blog', sealed)).toThrow(/"blog" cannot be opened: authentication failed/);
    expect(() => clusterKeySealer(pki.read('other.key')).open('shop', sealed)).toThrow(/authentication failed/);
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[3]!, 'base64');
    ct[0] ^= 1;
    expect(() => s.open('shop', [...parts.slice(0, 3), ct.toString('base64')].join(':'))).toThrow(/authentication failed/);
    expect(() => s.open('shop', 'garbage')).toThrow(/not in the aes-256-gcm\.v1 format/);
    expect(() => keySealer(new Uint8Array(16))).toThrow(/32 bytes/);
  });
});

describe('two nodes over one store', () => {
  const store = mapStore();
  const keysA = join(dir, 'a');
  const keysC = join(dir, 'c');
  const logA = memoryLogger();
  const logC = memoryLogger();
  let a: CertificateRegistry;
  let c: CertificateRegistry;

  beforeAll(async () => {
    a = new CertificateRegistry({ store, keys: fileKeyStore(keysA), sealer: clusterKeySealer(pki.read('caA.key')), logger: logA.logger, appTls: [entry()], operationsTls: [entry()] });
    c = new CertificateRegistry({ store, keys: fileKeyStore(keysC), sealer: clusterKeySealer(pki.read('caA.key')), logger: logC.logger, appTls: [entry()], operationsTls: [entry()] });
    await a.init();
    await c.init();
  });

  it('added with its key on A: C writes its own 0600 key file from the sealed copy and serves it; the store holds no key in clear', async () => {
    await a.add({ name: 'shop', certificate: pki.read('shop.pem'), private_key: pki.read('shop.key') });
    const record = store.map.get('cert:shop')!;
    expect(record).not.toContain('PRIVATE KEY');
    expect(JSON.parse(record).sealedPrivateKey).toMatch(/^aes-256-gcm\.v1:/);
    await c.reloadStored();
    expect(served(c)).toContain('shop');
    const files = readdirSync(keysC);
    expect(files).toEqual(readdirSync(keysA)); // content-named: the same file name on both nodes
    expect(statSync(join(keysC, files[0]!)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(keysC, files[0]!), 'utf8')).toBe(pki.read('shop.key'));
    expect(logC.lines.some((l) => l.msg === "wrote the shared private key of a run-time certificate added on another node to this node's key file" && l.name === 'shop')).toBe(true);
    // Read again from the file, not unsealed again.
    const restarted = new CertificateRegistry({ store, keys: fileKeyStore(keysC), sealer: clusterKeySealer(pki.read('caA.key')), logger: logC.logger, appTls: [entry()], operationsTls: [entry()] });
    await restarted.init();
    expect(served(restarted)).toContain('shop');
  });

  it('a node started after the add (no key file yet) serves it from the sealed copy at init', async () => {
    const keysD = join(dir, 'd');
    const d = new CertificateRegistry({ store, keys: fileKeyStore(keysD), sealer: clusterKeySealer(pki.read('caA.key')), logger: memoryLogger().logger, appTls: [entry()], operationsTls: [entry()] });
    await d.init();
    expect(served(d)).toContain('shop');
    expect(readdirSync(keysD)).toEqual(readdirSync(keysA));
  });

  it('a tampered sealed key, or one sealed under another CA, is refused with a log line and not served; the rest still applies', async () => {
    const record = JSON.parse(store.map.get('cert:shop')!);
    const parts = (record.sealedPrivateKey as string).split(':');
    const ct = Buffer.from(parts[3]!, 'base64');
    ct[ct.length - 1] ^= 0x80;
    store.map.set('cert:blog', JSON.stringify({ ...record, name: 'blog', sealedPrivateKey: record.sealedPrivateKey })); // moved to another name: the AAD no longer matches
    store.map.set('cert:shop', JSON.stringify({ ...record, sealedPrivateKey: [...parts.slice(0, 3), ct.toString('base64')].join(':') }));
    const keysE = join(dir, 'e');
    const log = memoryLogger();
    const e = new CertificateRegistry({ store, keys: fileKeyStore(keysE), sealer: clusterKeySealer(pki.read('caA.key')), logger: log.logger, appTls: [entry()], operationsTls: [entry()] });
    await e.init();
    await e.reloadStored();
    expect(served(e)).not.toContain('shop');
    expect(served(e)).not.toContain('blog');
    expect(served(e)).toContain('tls'); // the configured certificate keeps serving
    const refused = log.lines.filter((l) => l.msg === 'a run-time certificate added on another node is not served here: its shared private key was refused');
    expect(refused.map((l) => l.name).sort()).toEqual(['blog', 'shop']);
    expect(refused.every((l) => /authentication failed/.test(String(l.err)))).toBe(true);
    expect(existsSync(keysE) ? readdirSync(keysE) : []).toEqual([]);
    const wrongCa = new CertificateRegistry({ store, keys: fileKeyStore(join(dir, 'f')), sealer: clusterKeySealer(pki.read('other.key')), logger: memoryLogger().logger, appTls: [entry()], operationsTls: [entry()] });
    store.map.set('cert:shop', JSON.stringify(record));
    store.map.delete('cert:blog');
    await wrongCa.init();
    await wrongCa.reloadStored();
    expect(served(wrongCa)).not.toContain('shop');
    await c.reloadStored();
    expect(served(c)).toContain('shop'); // the untampered record still serves where the CA matches
  });

  it('removed on A: C stops serving it and removes its key file', async () => {
    await a.remove('shop');
    expect(readdirSync(keysA)).toEqual([]);
    await c.reloadStored();
    expect(served(c)).not.toContain('shop');
    expect(readdirSync(keysC)).toEqual([]);
  });

  it('without a sealer (one node) the record carries no sealed key', async () => {
    const single = mapStore();
    const r = new CertificateRegistry({ store: single, keys: fileKeyStore(join(dir, 'single')), logger: memoryLogger().logger, appTls: [entry()], operationsTls: [entry()] });
    await r.init();
    await r.add({ name: 'shop', certificate: pki.read('shop.pem'), private_key: pki.read('shop.key') });
    expect(JSON.parse(single.map.get('cert:shop')!)).not.toHaveProperty('sealedPrivateKey');
  });
});
