import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TlsEntry, PemSource } from '@harper-tls/config';
import { CertificateRegistry, type CertificateStore } from '../../src/certificates/registry.js';
import { fileKeyStore, memoryKeyStore } from '../../src/certificates/key-files.js';
import { HarperServer } from '../../src/server.js';
import { certificateOperations } from '../../src/operations/certificates.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { memoryLogger } from '../helpers/logger.js';
import { httpsRequest } from '../helpers/client.js';

function fileSource(path: string): PemSource {
  return { kind: 'file', value: path, isDefault: false, origin: 'test' };
}

function mapStore(): CertificateStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    async get(k) {
      return map.get(k);
    },
    async put(k, v) {
      map.set(k, v);
    },
    async remove(k) {
      map.delete(k);
    },
    async list(prefix) {
      return [...map].filter(([k]) => k.startsWith(prefix)).sort();
    },
  };
}

/** A store whose next `put` waits for `release()`; `reached` resolves once it waits. */
function pausingStore(): ReturnType<typeof mapStore> & { pauseNextPut(): { reached: Promise<void>; release: () => void } } {
  const store = mapStore();
  const put = store.put.bind(store);
  let pause: { reached: () => void; gate: Promise<void> } | undefined;
  return Object.assign(store, {
    async put(k: string, v: string) {
      const p = pause;
      pause = undefined;
      if (p) {
        p.reached();
        await p.gate;
      }
      return put(k, v);
    },
    pauseNextPut() {
      let reached!: () => void;
      let release!: () => void;
      const r = new Promise<void>((res) => (reached = res));
      pause = { reached, gate: new Promise<void>((res) => (release = res)) };
      return { reached: r, release };
    },
  });
}

/** A lock like `peers.exclusive` for registries in one process; `contended` resolves when a caller had to wait. */
function memoryLock(): { lock: <T>(fn: () => Promise<T>) => Promise<T>; contended: Promise<void> } {
  let tail: Promise<unknown> = Promise.resolve();
  let held = false;
  let contend!: () => void;
  const contended = new Promise<void>((r) => (contend = r));
  return {
    contended,
    lock<T>(fn: () => Promise<T>): Promise<T> {
      if (held) contend();
      const run = tail.then(async () => {
        held = true;
        try {
          return await fn();
        } finally {
          held = false;
        }
      });
      tail = run.catch(() => undefined);
      return run;
    },
  };
}

describe('CertificateRegistry with a live HTTPS listener', () => {
  let pki: TestPki;
  let server: HarperServer;
  let registry: CertificateRegistry;
  let port: number;
  let store: ReturnType<typeof mapStore>;
  const keys = memoryKeyStore();
  const { logger, lines } = memoryLogger();

  beforeAll(async () => {
    pki = createTestPki();
    pki.ca('caA');
    pki.ca('caB');
    pki.leaf('server', 'caA', { cn: 'localhost', sans: 'DNS:localhost,IP:127.0.0.1' });
    pki.leaf('api', 'caA', { cn: 'api.test', sans: 'DNS:api.test' });
    pki.leaf('alice', 'caB', { cn: 'alice', eku: 'clientAuth' });
    pki.leaf('expired', 'caA', { cn: 'old.test', sans: 'DNS:old.test', days: 1 });
    // The served files live in their own directory so the test can replace them.
    copyFileSync(pki.file('server.pem'), pki.file('served.pem'));
    copyFileSync(pki.file('server.key'), pki.file('served.key'));
    store = mapStore();
    registry = new CertificateRegistry({ store, keys, logger, appTls: [entry()], operationsTls: [entry()] });
    await registry.init();
    server = new HarperServer({
      logger,
      host: '127.0.0.1',
      listeners: [
        {
          name: 'https',
          api: 'app',
          port: 0,
          tls: { contexts: registry.contexts('https'), mtls: { required: true, user: { kind: 'cn' }, certificateVerification: false } },
          authenticate: async () => ({ ok: false, status: 401, error: 'Login failed' }),
        },
      ],
      operations: [],
    });
    [{ port }] = await server.listen();
  });

  afterAll(async () => {
    await server?.close();
    pki?.cleanup();
  });

  const entry = (): TlsEntry => ({ certificate: fileSource(pki.file('served.pem')), privateKey: fileSource(pki.file('served.key')), certificateAuthority: fileSource(pki.file('caA.pem')) });
  const clientA = () => ({ cert: pki.read('alice.pem'), key: pki.read('alice.key') });

  it('refuses a client whose CA is not trusted (mtls required)', async () => {
    await expect(httpsRequest({ port, path: '/health', ca: pki.read('caA.pem'), ...clientA() })).rejects.toThrow();
  });

  it('trusts a CA added at run time, at once, and forgets it when removed', async () => {
    await registry.add({ certificate: pki.read('caB.pem'), is_authority: true, name: 'caB' });
    const ok = await httpsRequest({ port, path: '/health', ca: pki.read('caA.pem'), ...clientA() });
    expect(ok.status).toBe(200);
    await registry.remove('caB');
    await expect(httpsRequest({ port, path: '/health', ca: pki.read('caA.pem'), ...clientA() })).rejects.toThrow();
    await registry.add({ certificate: pki.read('caB.pem'), is_authority: true, name: 'caB' });
  });

  it('serves a run-time server certificate by SNI and the default one otherwise', async () => {
    await registry.add({ certificate: pki.read('api.pem'), private_key: pki.read('api.key') });
    const api = await httpsRequest({ port, path: '/health', ca: pki.read('caA.pem'), servername: 'api.test', ...clientA() });
    expect(api.peer?.subject?.CN).toBe('api.test');
    const def = await httpsRequest({ port, path: '/health', ca: pki.read('caA.pem'), servername: 'localhost', ...clientA() });
    expect(def.peer?.subject?.CN).toBe('localhost');
  });

  it('stores run-time certificates and a new registry picks them up', async () => {
    expect([...store.map.keys()].sort()).toEqual(['cert:api.test', 'cert:caB']);
    // The database holds a reference to the key, never the key.
    expect([...store.map.values()].join('')).not.toContain('PRIVATE KEY');
    expect(JSON.parse(store.map.get('cert:api.test')!).privateKeyRef).toMatch(/^api\.test-[0-9a-f]{16}-key\.pem$/);
    expect([...keys.map.values()].join('')).toContain('PRIVATE KEY');
    const again = new CertificateRegistry({ store, keys, logger, appTls: [entry()], operationsTls: [entry()] });
    await again.init();
    expect(again.list().filter((c) => c.source === 'runtime').map((c) => c.name).sort()).toEqual(['api.test', 'caB']);
    expect(again.contexts('https').trustedCas(undefined).map((c) => c.subject)).toContain('CN=caB Test CA');
  });

  it('a store write that fails leaves what is served and listed as it was (add and remove)', async () => {
    const failing = mapStore();
    let fail = false;
    const put = failing.put.bind(failing);
    const remove = failing.remove.bind(failing);
    failing.put = async (k, v) => (fail ? Promise.reject(new Error('disk full')) : put(k, v));
    failing.remove = async (k) => (fail ? Promise.reject(new Error('disk full')) : remove(k));
    const r = new CertificateRegistry({ store: failing, keys: memoryKeyStore(), logger, appTls: [entry()], operationsTls: [entry()] });
    await r.init();
    const trusted = () => r.contexts('https').trustedCas(undefined).map((c) => c.subject);
    fail = true;
    await expect(r.add({ certificate: pki.read('caB.pem'), is_authority: true, name: 'caB' })).rejects.toThrow('disk full');
    expect(trusted()).not.toContain('CN=caB Test CA');
    expect(r.list().some((c) => c.name === 'caB')).toBe(false);
    fail = false;
    await r.add({ certificate: pki.read('caB.pem'), is_authority: true, name: 'caB' });
    fail = true;
    await expect(r.remove('caB')).rejects.toThrow('disk full');
    expect(trusted()).toContain('CN=caB Test CA');
    expect(r.list().some((c) => c.name === 'caB')).toBe(true);
  });

  it('lists certificates without any private key', () => {
    const list = registry.list();
    expect(list.map((c) => c.name)).toEqual(expect.arrayContaining(['tls', 'api.test', 'caB']));
    expect(JSON.stringify(list)).not.toMatch(/PRIVATE KEY/);
    const api = list.find((c) => c.name === 'api.test')!;
    expect(api.subject_alt_names).toEqual(['DNS:api.test']);
    expect(api.is_authority).toBe(false);
  });

  it.each([
    ['a key that does not match', () => ({ certificate: pki.read('api.pem'), private_key: pki.read('server.key') }), /does not match/],
    ['a CA without CA basic constraints', () => ({ certificate: pki.read('api.pem'), is_authority: true }), /not a CA/],
    ['a server certificate without its key', () => ({ certificate: pki.read('api.pem') }), /private_key/],
    ['garbage PEM', () => ({ certificate: 'hello', private_key: 'x' }), /no PEM certificate/],
    ['an unknown use', () => ({ certificate: pki.read('caB.pem'), is_authority: true, uses: ['smtp'] }), /uses/],
  ])('rejects %s with a reason', async (_name, body, message) => {
    await expect(registry.add(body() as Record<string, unknown>)).rejects.toThrow(message);
  });

  it('rejects an expired certificate', async () => {
    const later = new CertificateRegistry({ store: mapStore(), keys: memoryKeyStore(), logger, appTls: [], operationsTls: [], now: () => new Date(Date.now() + 3 * 86_400_000) });
    // validation happens before any context is touched, so an uninitialised registry is enough
    await expect(later.add({ certificate: pki.read('expired.pem'), private_key: pki.read('expired.key') })).rejects.toThrow(/expired/);
  });

  it('keeps run-time private keys in 0600 files, never in the database: replaced, removed, swept and migrated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'harper-runtime-keys-'));
    try {
      const db = mapStore();
      const keys = fileKeyStore(join(dir, 'runtime'));
      const files = () => readdirSync(join(dir, 'runtime')).sort();
      const r = new CertificateRegistry({ store: db, keys, logger, appTls: [entry()], operationsTls: [entry()] });
      await r.init();
      await r.add({ certificate: pki.read('api.pem'), private_key: pki.read('api.key'), name: 'api' });
      const [first] = files();
      expect(first).toMatch(/^api-[0-9a-f]{16}-key\.pem$/);
      expect(statSync(join(dir, 'runtime', first!)).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'runtime')).mode & 0o777).toBe(0o700);
      expect(readFileSync(join(dir, 'runtime', first!), 'utf8')).toBe(pki.read('api.key'));
      expect([...db.map.values()].join('')).not.toContain('PRIVATE KEY');
      // A replacement writes a new file, commits the record, then drops the old file.
      pki.leaf('api2', 'caA', { cn: 'api.test', sans: 'DNS:api.test' });
      await r.add({ certificate: pki.read('api2.pem'), private_key: pki.read('api2.key'), name: 'api' });
      expect(files()).toHaveLength(1);
      expect(files()[0]).not.toBe(first);
      // What a crash between a key file and its record leaves: a key no record names, swept at init.
      writeFileSync(join(dir, 'runtime', 'lost-0123456789abcdef-key.pem'), pki.read('server.key'), { mode: 0o600 });
      // A record from before keys moved to files: its key moves out of the database at init.
      db.map.set('cert:legacy', JSON.stringify({ name: 'legacy', certificate: pki.read('server.pem'), privateKey: pki.read('server.key'), isAuthority: false, hosts: [], uses: ['https'], addedAt: new Date().toISOString() }));
      const again = new CertificateRegistry({ store: db, keys, logger, appTls: [entry()], operationsTls: [entry()] });
      await again.init();
      expect(files().some((f) => f.startsWith('lost-'))).toBe(false);
      expect(files().some((f) => f.startsWith('legacy-'))).toBe(true);
      expect([...db.map.values()].join('')).not.toContain('PRIVATE KEY');
      expect(again.list().filter((c) => c.source === 'runtime').map((c) => c.name).sort()).toEqual(['api', 'legacy']);
      await again.remove('api');
      await again.remove('legacy');
      expect(files()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps serving the last good certificate when a configured file is corrupted, and takes a valid replacement', async () => {
    writeFileSync(pki.file('served.tmp'), 'not a certificate');
    renameSync(pki.file('served.tmp'), pki.file('served.pem'));
    const bad = registry.reloadConfigured();
    expect(bad.ok).toBe(false);
    expect(lines.some((l) => String(l.msg).includes('previous certificates keep serving'))).toBe(true);
    const still = await httpsRequest({ port, path: '/health', ca: pki.read('caA.pem'), ...clientA() });
    expect(still.peer?.subject?.CN).toBe('localhost');

    pki.leaf('renewed', 'caA', { cn: 'localhost', sans: 'DNS:localhost' });
    copyFileSync(pki.file('renewed.key'), pki.file('served.key'));
    copyFileSync(pki.file('renewed.pem'), pki.file('served.pem'));
    expect(registry.reloadConfigured().ok).toBe(true);
    const renewed = await httpsRequest({ port, path: '/health', ca: pki.read('caA.pem'), ...clientA() });
    expect(renewed.peer?.serialNumber).toBe(new X509Certificate(pki.read('renewed.pem')).serialNumber);
  });

  it('runs add, remove and reload one at a time: a CA removed while an add is stored stays removed, and concurrent adds are all served', async () => {
    pki.ca('caC');
    pki.ca('caD');
    const paused = pausingStore();
    const r = new CertificateRegistry({ store: paused, keys: memoryKeyStore(), logger, appTls: [entry()], operationsTls: [entry()] });
    await r.init();
    const trusted = () => r.contexts('https').trustedCas(undefined).map((c) => c.subject);
    const served = () => r.allCertificates().filter((c) => c.kind === 'served' && c.use === 'https').map((c) => c.name);
    await r.add({ certificate: pki.read('caB.pem'), is_authority: true, name: 'caB' });
    const put = paused.pauseNextPut();
    const adding = r.add({ certificate: pki.read('api.pem'), private_key: pki.read('api.key'), name: 'api' });
    await put.reached;
    // A remove_certificate here and a peer's reload, while the add waits for its store write.
    const removing = r.remove('caB');
    const reloading = r.reloadStored();
    put.release();
    await Promise.all([adding, removing, reloading]);
    await r.add({ certificate: pki.read('caC.pem'), is_authority: true, name: 'caC' });
    expect(trusted()).not.toContain('CN=caB Test CA');
    expect(trusted()).toContain('CN=caC Test CA');
    expect(served()).toContain('api');
    expect(r.list().filter((c) => c.source === 'runtime').map((c) => c.name).sort()).toEqual(['api', 'caC']);
    // Two add_certificate at once: both stored, both served.
    await Promise.all([r.add({ certificate: pki.read('caD.pem'), is_authority: true, name: 'caD' }), r.add({ certificate: pki.read('caB.pem'), is_authority: true, name: 'caB' })]);
    expect(trusted()).toEqual(expect.arrayContaining(['CN=caB Test CA', 'CN=caC Test CA', 'CN=caD Test CA']));
    expect(served()).toContain('api');
    expect([...paused.map.keys()].sort()).toEqual(['cert:api', 'cert:caB', 'cert:caC', 'cert:caD']);
  });

  it('a configured-file reload while an add is stored keeps serving the certificate being added', async () => {
    const paused = pausingStore();
    const r = new CertificateRegistry({ store: paused, keys: memoryKeyStore(), logger, appTls: [entry()], operationsTls: [entry()] });
    await r.init();
    const put = paused.pauseNextPut();
    const adding = r.add({ certificate: pki.read('api.pem'), private_key: pki.read('api.key'), name: 'api' });
    await put.reached;
    expect(r.reloadConfigured().ok).toBe(true);
    put.release();
    await adding;
    expect(r.allCertificates().filter((c) => c.kind === 'served' && c.use === 'https').map((c) => c.name)).toContain('api');
  });

  it('a worker starting while another adds a certificate does not sweep the new key file (node-wide key lock); an unreferenced key is still swept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'harper-runtime-keys-'));
    try {
      const db = pausingStore();
      const files = () => readdirSync(join(dir, 'runtime')).sort();
      const { lock, contended } = memoryLock();
      const adder = new CertificateRegistry({ store: db, keys: fileKeyStore(join(dir, 'runtime')), logger, appTls: [entry()], operationsTls: [entry()], keysLock: lock });
      await adder.init();
      mkdirSync(join(dir, 'runtime'), { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, 'runtime', 'lost-0123456789abcdef-key.pem'), pki.read('server.key'), { mode: 0o600 });
      const put = db.pauseNextPut();
      const adding = adder.add({ certificate: pki.read('api.pem'), private_key: pki.read('api.key'), name: 'api' });
      await put.reached;
      const written = files().find((f) => f.startsWith('api-'));
      expect(written).toBeDefined();
      // The key file is written, its record not yet committed: a second worker starts.
      const starter = new CertificateRegistry({ store: db, keys: fileKeyStore(join(dir, 'runtime')), logger, appTls: [entry()], operationsTls: [entry()], keysLock: lock });
      const starting = starter.init();
      await Promise.race([contended, starting]);
      put.release();
      await Promise.all([adding, starting]);
      expect(files()).toEqual([written]);
      expect(starter.list().filter((c) => c.source === 'runtime').map((c) => c.name)).toEqual(['api']);
      expect(starter.allCertificates().some((c) => c.kind === 'served' && c.name === 'api')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const superUser = { username: 'admin', role: 'super_user', method: 'basic' } as const;

  it.each([
    ['an empty name', ''],
    ['a name of spaces only', '   '],
  ])('add_certificate refuses %s with a 400 naming "name" and stores nothing', async (_what, name) => {
    const db = mapStore();
    const r = new CertificateRegistry({ store: db, keys: memoryKeyStore(), logger, appTls: [entry()], operationsTls: [entry()] });
    await r.init();
    const res = await certificateOperations(r)({ operation: 'add_certificate', certificate: pki.read('caB.pem'), is_authority: true, name }, superUser);
    expect(res).toEqual({ status: 400, body: { error: expect.stringContaining('"name"') } });
    expect(db.map.size).toBe(0);
    expect(r.list().some((c) => c.source === 'runtime')).toBe(false);
  });

  it.each([
    ['certificate then key, key also in private_key', () => ({ certificate: pki.read('api.pem') + pki.read('api.key'), private_key: pki.read('api.key') })],
    ['key then certificate', () => ({ certificate: pki.read('api.key') + pki.read('api.pem'), private_key: pki.read('api.key') })],
    ['a CA with its key', () => ({ certificate: pki.read('caB.pem') + pki.read('caB.key'), is_authority: true, name: 'caB' })],
  ])('add_certificate refuses a private key pasted into "certificate" (%s) with a 400, and never stores it', async (_what, body) => {
    const db = mapStore();
    const keys = memoryKeyStore();
    const r = new CertificateRegistry({ store: db, keys, logger, appTls: [entry()], operationsTls: [entry()] });
    await r.init();
    const res = await certificateOperations(r)({ operation: 'add_certificate', ...body() }, superUser);
    expect(res?.status).toBe(400);
    expect((res?.body as { error: string }).error).toMatch(/"certificate" contains a private key.*"private_key"/);
    expect((res?.body as { error: string }).error).not.toContain('BEGIN');
    expect([...db.map.values()].join('')).not.toContain('PRIVATE KEY');
    expect(keys.map.size).toBe(0);
  });

  it('removing an unknown name is an error that says so', async () => {
    await expect(registry.remove('nope')).rejects.toThrow(/no certificate named "nope"/);
  });
});
