import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import type { PemSource, TlsEntry } from '@harper-tls/config';
import { CaBundleCache, parseCaPems, type CaParser } from '../../src/tls/ca-bundle.js';
import { CertificateRegistry, type CertificateStore } from '../../src/certificates/registry.js';
import { memoryKeyStore } from '../../src/certificates/key-files.js';
import { HarperServer } from '../../src/server.js';
import { memoryLogger } from '../helpers/logger.js';
import { httpsRequest } from '../helpers/client.js';

const file = (path: string): PemSource => ({ kind: 'file', value: path, isDefault: false, origin: 'test' });
const emptyStore = (): CertificateStore => {
  const map = new Map<string, string>();
  return { get: async (k) => map.get(k), put: async (k, v) => void map.set(k, v), remove: async (k) => void map.delete(k), list: async (p) => [...map].filter(([k]) => k.startsWith(p)) };
};

/** A parser that counts how many bundles (and certificates) it parsed. */
function countingParser() {
  const calls: number[] = [];
  const parse: CaParser = (pems, what) => {
    calls.push(pems.length);
    return parseCaPems(pems, what);
  };
  return { parse, calls };
}

describe('CaBundleCache', () => {
  let a: KeyAndCert;
  let b: KeyAndCert;
  beforeAll(async () => {
    a = await createCA({ commonName: 'Bundle A', days: 5 });
    b = await createCA({ commonName: 'Bundle B', days: 5 });
  });

  it('parses a CA set once and hands out the same frozen instance', () => {
    const { parse, calls } = countingParser();
    const cache = new CaBundleCache({ parse });
    const one = cache.fromPemText(a.certificatePem + b.certificatePem, 'x');
    const two = cache.fromPemText(`\n${a.certificatePem}\n\n${b.certificatePem}`, 'y'); // same blocks, other whitespace
    expect(two).toBe(one);
    expect(calls).toEqual([2]);
    expect(Object.isFrozen(one.certs)).toBe(true);
    expect(one.certs.map((c) => c.subject)).toEqual(['CN=Bundle A', 'CN=Bundle B']);
    expect(cache.fromPemText(b.certificatePem, 'z')).not.toBe(one);
    expect(calls).toEqual([2, 1]);
  });

  it('unions without parsing, interned; retain() drops what is no longer used', () => {
    const { parse, calls } = countingParser();
    const cache = new CaBundleCache({ parse });
    const x = cache.fromPems([a.certificatePem.trim()], 'a');
    const y = cache.fromPems([b.certificatePem.trim()], 'b');
    const u = cache.union(x, y);
    expect(cache.union(x, y)).toBe(u);
    expect(u.certs[0]).toBe(x.certs[0]);
    expect(calls).toEqual([1, 1]);
    cache.retain([u]);
    expect(cache.size).toBe(1);
    cache.fromPems([a.certificatePem.trim()], 'a');
    expect(calls).toEqual([1, 1, 1]);
  });
});

describe('SNI contexts share one parsed CA bundle, and a CA change reaches all of them', () => {
  const { logger } = memoryLogger('warn');
  const N = 10;
  const hosts = Array.from({ length: N }, (_, i) => `h${i}.test`);
  let dir: string;
  let caA: KeyAndCert;
  let caB: KeyAndCert;
  let clientB: KeyAndCert;
  let registry: CertificateRegistry;
  let server: HarperServer;
  let port: number;
  const counter = countingParser();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-ca-bundle-'));
    caA = await createCA({ commonName: 'Shared CA A', days: 5 });
    caB = await createCA({ commonName: 'Shared CA B', days: 5 });
    const leaf = await issueCertificate({ ca: caA, kind: 'server', commonName: 'h0.test', sans: hosts.map((h) => `DNS:${h}`), days: 5 });
    clientB = await issueCertificate({ ca: caB, kind: 'client', commonName: 'bob', days: 5 });
    writeFileSync(join(dir, 'cert.pem'), leaf.certificatePem);
    writeFileSync(join(dir, 'key.pem'), leaf.privateKeyPem);
    writeFileSync(join(dir, 'ca.pem'), caA.certificatePem);
    const entries: TlsEntry[] = hosts.map((h) => ({ certificate: file(join(dir, 'cert.pem')), privateKey: file(join(dir, 'key.pem')), certificateAuthority: file(join(dir, 'ca.pem')), host: [h] }));
    registry = new CertificateRegistry({ store: emptyStore(), keys: memoryKeyStore(), logger, appTls: entries, operationsTls: entries, bundles: new CaBundleCache({ parse: counter.parse }) });
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
          authenticate: async () => ({ ok: true, user: { username: 'bob', role: 'r' }, method: 'mtls' }),
        },
      ],
      operations: [],
    });
    port = (await server.listen())[0]!.port;
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${N} SNI entries on two APIs, one CA file: parsed once, one shared instance`, () => {
    expect(counter.calls).toEqual([1]);
    const https = registry.contexts('https');
    const ops = registry.contexts('operations-api');
    const first = https.trustFor('h0.test');
    for (const h of hosts) {
      expect(https.trustFor(h)).toBe(first);
      expect(ops.trustFor(h)).toBe(first);
      expect(https.trustedCas(h)).toBe(first.certs);
    }
    expect(https.material.entries.every((e) => e.caBundle.certs === first.certs)).toBe(true);
  });

  it('a client of another CA is refused on every SNI name; after the CA file changes it is accepted on all of them', async () => {
    const req = (servername: string) => httpsRequest({ port, path: '/whoami', ca: caA.certificatePem, servername, cert: clientB.certificatePem, key: clientB.privateKeyPem });
    for (const h of hosts.slice(0, 4)) await expect(req(h)).rejects.toThrow();
    writeFileSync(join(dir, 'ca.pem'), caA.certificatePem + caB.certificatePem);
    expect(registry.reloadConfigured()).toEqual({ ok: true });
    expect(counter.calls).toEqual([1, 2]); // the new set, once for all entries and both APIs
    const trust = registry.contexts('https').trustFor('h0.test');
    expect(trust.certs.map((c) => c.subject)).toEqual(['CN=Shared CA A', 'CN=Shared CA B']);
    for (const h of hosts) expect(registry.contexts('operations-api').trustFor(h)).toBe(trust);
    for (const h of hosts) expect((await req(h)).status).toBe(200);
  });

  it('a CA added at run time is one more shared bundle, trusted by every context', async () => {
    const caC = await createCA({ commonName: 'Runtime CA C', days: 5 });
    await registry.add({ certificate: caC.certificatePem, is_authority: true, name: 'caC' });
    expect(counter.calls).toEqual([1, 2, 1]);
    const trust = registry.contexts('https').trustFor('h3.test');
    expect(trust.certs.map((c) => c.subject)).toEqual(['CN=Shared CA A', 'CN=Shared CA B', 'CN=Runtime CA C']);
    for (const h of hosts) expect(registry.contexts('https').trustFor(h)).toBe(trust);
  });
});
