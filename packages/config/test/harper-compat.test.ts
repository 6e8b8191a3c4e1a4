import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type ConfigIssue } from '../src/index.js';
import { tempDir } from './helpers.js';

/** Harper's own `static/defaultConfig.yaml` (source and commit in fixtures/README.md). */
const HARPER_DEFAULT = readFileSync(new URL('./fixtures/harper-defaultConfig.yaml', import.meta.url), 'utf8');

let t: ReturnType<typeof tempDir>;
afterEach(() => t?.cleanup());

async function issuesOf(p: Promise<unknown>): Promise<ConfigIssue[]> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe("Harper's own configuration file (SPEC.md section 11)", () => {
  it("loads Harper's defaultConfig.yaml unchanged: its SPEC-11 keys take effect, the rest are named as ignored", async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', HARPER_DEFAULT);
    const { config, warnings } = await loadConfig({ root: t.dir, env: {} });
    expect(warnings).toEqual([]);
    expect(config.ignoredHarperKeys).toEqual([
      'http.compressionThreshold',
      'threads.debug',
      'authentication.enableSessions',
      'analytics',
      'applications',
      'componentsRoot',
      'localStudio',
      'logging.auditLog',
      'logging.auditRetention',
      'mqtt',
      'storage.writeAsync',
      'storage.caching',
      'storage.compression',
      'storage.noReadAhead',
      'storage.prefetchWrites',
    ]);
    expect(config.http).toMatchObject({ port: null, securePort: 9926, mtls: false, cors: false, http2: false });
    expect(config.http.limits).toEqual({ keepAliveTimeout: 30_000, headersTimeout: undefined, timeout: 120_000, maxHeaderSize: undefined });
    expect(config.operationsApi.network).toMatchObject({ port: null, securePort: 9925, cors: { anyOrigin: true, origins: [] } });
    expect(config.operationsApi.network.domainSocket).toBe(join(t.dir, 'hdb', 'operations-server'));
    expect(config.authentication).toMatchObject({ authorizeLocal: false, cacheTtlMs: 30_000, operationTokenTimeoutMs: 86_400_000 });
    expect(config.logging).toMatchObject({ level: 'warn', file: true, stdStreams: false, root: join(t.dir, 'log') });
    expect(config.logging.rotation).toMatchObject({ enabled: true, compress: false, intervalMs: null, maxSizeBytes: 64 * 1024 * 1024, path: join(t.dir, 'log') });
    expect(config.rootPath).toBe(t.dir);
    expect(config.storage.path).toBe(join(t.dir, 'database'));
    expect(config.node.hostname).toBe(hostname());
    expect(config.tls[0]!.privateKey).toMatchObject({ isDefault: true });
  });

  it('a production-like Harper file: mTLS, certificateVerification, several tls entries, CORS list, rotation', async () => {
    t = tempDir();
    t.write(
      'harperdb-config.yaml',
      `http:
  port: null
  securePort: 443
  cors: true
  corsAccessList: [https://app.example.com, https://admin.example.com]
  http2: true
  headersTimeout: 15000
  maxHeaderSize: 32768
  compressionThreshold: 1200
  threadRange: [1, 3]
  mtls:
    required: true
    user: Common Name
    certificateVerification:
      failureMode: fail-open
      crl: {timeout: 5000}
      ocsp: false
operationsApi:
  network:
    port: null
    securePort: 9925
    cors: false
    domainSocket: /tmp/hdb-ops.sock
  tls:
    certificate: /etc/hdb/ops.pem
    privateKey: /etc/hdb/ops-key.pem
tls:
  - certificate: /etc/hdb/a.pem
    privateKey: /etc/hdb/a-key.pem
    certificateAuthority: /etc/hdb/ca.pem
    host: a.example.com
    certificateWatchInterval: 60000
  - certificate: /etc/hdb/b.pem
    privateKey: /etc/hdb/b-key.pem
    host: ["*.b.example.com"]
authentication:
  authorizeLocal: false
  cacheTTL: 10000
  enableSessions: false
  hashFunction: argon2id
logging:
  level: info
  stdStreams: true
  root: /var/log/hdb
  rotation: {enabled: true, compress: true, interval: 1D, maxSize: 100M, retention: 30D}
  auditAuthEvents: {logFailed: true, logSuccessful: true}
threads: {count: 4, maxHeapMemory: 2048, debug: {startingPort: 9229}}
replication:
  hostname: node1.example.com
  routes: [node2.example.com]
  databases: '*'
storage: {path: data, writeAsync: false, compression: {threshold: 500}}
databases:
  dev: {path: /mnt/dev}
node: {hostname: node1.example.com}
mqtt: {network: {port: null, securePort: 8883}}
rootPath: ${t.dir}
`,
    );
    const { config } = await loadConfig({ root: t.dir, env: {} });
    expect(config.ignoredHarperKeys).toEqual([
      'http.compressionThreshold',
      'http.threadRange',
      'tls.certificateWatchInterval',
      'authentication.enableSessions',
      'authentication.hashFunction',
      'logging.rotation.retention',
      'threads.maxHeapMemory',
      'threads.debug',
      'replication',
      'storage.writeAsync',
      'storage.compression',
      'databases',
      'mqtt',
    ]);
    expect(config.http).toMatchObject({ port: null, securePort: 443, http2: true, cors: { anyOrigin: false, origins: ['https://app.example.com', 'https://admin.example.com'] } });
    expect(config.http.limits).toMatchObject({ headersTimeout: 15_000, maxHeaderSize: 32_768, timeout: 120_000 });
    expect(config.http.mtls).toMatchObject({ required: true, user: { kind: 'cn' }, certificateVerification: { failureMode: 'fail-open', crl: { timeout: 5000 }, ocsp: { enabled: false } } });
    expect(config.tls.map((e) => e.host)).toEqual([['a.example.com'], ['*.b.example.com']]);
    expect(config.operationsApi.tlsInherited).toBe(false);
    expect(config.operationsApi.network).toMatchObject({ cors: false, domainSocket: '/tmp/hdb-ops.sock' });
    expect(config.authentication.cacheTtlMs).toBe(10_000);
    expect(config.logging).toMatchObject({ stdStreams: true, root: '/var/log/hdb', auditAuthEvents: { logFailed: true, logSuccessful: true } });
    expect(config.logging.rotation).toMatchObject({ compress: true, intervalMs: 86_400_000, interval: '1d', maxSizeBytes: 100 * 1024 * 1024, path: '/var/log/hdb' });
    expect(config.storage.path).toBe(join(t.dir, 'data'));
    expect(config.node.hostname).toBe('node1.example.com');
    expect(config.threads.count).toBe(4);
  });

  it('type-checks the keys it ignores, and a key neither knows stays an error with a suggestion', async () => {
    t = tempDir();
    t.write(
      'harperdb-config.yaml',
      ['http:', '  compressionThreshold: lots', 'mqtt:', '  webSocket: maybe', '  netwrok: {}', 'threads: {cont: 2}', 'analytcs: {}', 'storage: {caching: 1}', ''].join('\n'),
    );
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    const byKey = Object.fromEntries(issues.map((i) => [i.key, i]));
    expect(Object.keys(byKey).sort()).toEqual(['analytcs', 'http.compressionThreshold', 'mqtt.netwrok', 'mqtt.webSocket', 'storage.caching', 'threads.cont'].sort());
    expect(byKey['http.compressionThreshold']).toMatchObject({ line: 2, value: 'lots', message: expect.stringContaining("expected a number (Harper's type") });
    expect(byKey['mqtt.webSocket']!.message).toContain('expected true or false');
    expect(byKey['mqtt.netwrok']!.message).toContain('did you mean "network"?');
    expect(byKey['threads.cont']!.message).toContain('did you mean "count"?');
    expect(byKey['analytcs']!.message).toContain('did you mean "analytics"?');
  });

  it('new keys have environment and --KEY names; a value starting with [ or { is JSON', async () => {
    t = tempDir();
    const { config } = await loadConfig({
      root: t.dir,
      env: { HTTP_CORS: 'true', HTTP_CORSACCESSLIST: '["https://a.example"]', AUTHENTICATION_CACHETTL: '5000', STORAGE_PATH: '/srv/db' },
      overrides: ['--HTTP_KEEPALIVETIMEOUT', '7000', '--operationsApi.network.corsAccessList', '["*"]', '--OPERATIONSAPI_NETWORK_CORS', 'true', '--LOGGING_AUDITAUTHEVENTS', '{"logFailed": true}', '--NODE_HOSTNAME', 'n1', '--MQTT_NETWORK_PORT', '1884'],
      createIfMissing: false,
    });
    expect(config.http.cors).toEqual({ anyOrigin: false, origins: ['https://a.example'] });
    expect(config.operationsApi.network.cors).toEqual({ anyOrigin: true, origins: [] });
    expect(config.http.limits.keepAliveTimeout).toBe(7000);
    expect(config.authentication.cacheTtlMs).toBe(5000);
    expect(config.storage.path).toBe('/srv/db');
    expect(config.logging.auditAuthEvents).toEqual({ logFailed: true, logSuccessful: false });
    expect(config.node.hostname).toBe('n1');
    expect(config.ignoredHarperKeys).toEqual(['mqtt']);
    const bad = await issuesOf(loadConfig({ root: t.dir, env: { HTTP_CORSACCESSLIST: '[https://a.example]' }, createIfMissing: false }));
    expect(bad).toMatchObject([{ key: 'http.corsAccessList', source: 'env', name: 'HTTP_CORSACCESSLIST', message: expect.stringContaining('not valid JSON') }]);
  });

  it('rootPath in the file is the root unless --root or ROOTPATH is given', async () => {
    t = tempDir();
    const file = t.write('my.yaml', `rootPath: ${join(t.dir, 'elsewhere')}\n`);
    expect((await loadConfig({ configFile: file, env: {}, homedir: t.dir })).config.rootPath).toBe(join(t.dir, 'elsewhere'));
    expect((await loadConfig({ configFile: file, env: { ROOTPATH: join(t.dir, 'env') }, homedir: t.dir })).config.rootPath).toBe(join(t.dir, 'env'));
    expect((await loadConfig({ configFile: file, root: join(t.dir, 'cli'), env: {}, homedir: t.dir })).config.rootPath).toBe(join(t.dir, 'cli'));
    const { config } = await loadConfig({ configFile: file, env: {}, homedir: t.dir });
    expect(config.storage.path).toBe(join(t.dir, 'elsewhere', 'database'));
    expect(config.logging.root).toBe(join(t.dir, 'elsewhere', 'log'));
  });

  it('rejects bad values of the new keys, naming the key and what is allowed', async () => {
    t = tempDir();
    t.write(
      'harperdb-config.yaml',
      [
        'http:',
        '  cors: yes-please',
        '  corsAccessList: https://one.example',
        '  headersTimeout: -5',
        '  maxHeaderSize: 10',
        '  http2: 1',
        'authentication: {cacheTTL: soon, authorizeLocal: "true"}',
        'logging: {rotation: {maxSize: 64X, interval: 3W}, file: nope}',
        `operationsApi: {network: {domainSocket: ${'s'.repeat(120)}}}`,
        '',
      ].join('\n'),
    );
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    const byKey = Object.fromEntries(issues.map((i) => [i.key, i]));
    expect(Object.keys(byKey).sort()).toEqual(
      [
        'http.cors',
        'http.corsAccessList',
        'http.headersTimeout',
        'http.maxHeaderSize',
        'http.http2',
        'authentication.cacheTTL',
        'authentication.authorizeLocal',
        'logging.rotation.maxSize',
        'logging.rotation.interval',
        'logging.file',
        'operationsApi.network.domainSocket',
      ].sort(),
    );
    expect(byKey['logging.rotation.maxSize']!.message).toContain('K, M or G');
    expect(byKey['logging.rotation.interval']!.message).toContain('D (days)');
    expect(byKey['operationsApi.network.domainSocket']!.message).toContain('longer than 107 bytes');
    expect(byKey['http.corsAccessList']).toMatchObject({ line: 3 });
  });

  it('CORS: "*" or a list of only null means any origin; cors false turns it off whatever the list', async () => {
    t = tempDir();
    const load = async (yaml: string) => (await loadConfig({ root: t.dir, env: {}, configFile: t.write('c.yaml', yaml) })).config.http.cors;
    expect(await load('http: {cors: true, corsAccessList: [null]}\n')).toEqual({ anyOrigin: true, origins: [] });
    expect(await load('http: {cors: true, corsAccessList: ["*", "https://x.example"]}\n')).toEqual({ anyOrigin: true, origins: ['https://x.example'] });
    expect(await load('http: {cors: true, corsAccessList: [null, "https://x.example"]}\n')).toEqual({ anyOrigin: false, origins: ['https://x.example'] });
    expect(await load('http: {cors: false, corsAccessList: ["*"]}\n')).toBe(false);
  });
});

describe('docs/harper-compat.md', () => {
  it("names every key of Harper's schema", async () => {
    const { HARPER_TREE } = await import('../src/index.js');
    const doc = readFileSync(new URL('../../../docs/harper-compat.md', import.meta.url), 'utf8');
    const paths: string[] = [];
    const walk = (tree: typeof HARPER_TREE, prefix: string[]) => {
      for (const [k, n] of Object.entries(tree)) {
        paths.push([...prefix, k].join('.'));
        if (n.keys) walk(n.keys, [...prefix, k]);
      }
    };
    walk(HARPER_TREE, []);
    expect(paths.length).toBeGreaterThan(300);
    expect(paths.filter((p) => !doc.includes(`| \`${p}\` |`))).toEqual([]);
  });
});
