import { afterEach, describe, expect, it } from 'vitest';
import { lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_YAML, loadConfig, type ConfigIssue } from '../src/index.js';
import { tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t?.cleanup());

async function issuesOf(p: Promise<unknown>): Promise<ConfigIssue[]> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig: defaults and first start', () => {
  it('creates the default file on an empty root and resolves every default of SPEC.md', async () => {
    t = tempDir();
    const root = join(t.dir, 'hdb');
    const { config, created, warnings } = await loadConfig({ root, env: {} });
    expect(created).toBe(true);
    expect(warnings).toEqual([]);
    expect(readFileSync(join(root, 'harperdb-config.yaml'), 'utf8')).toBe(DEFAULT_CONFIG_YAML);
    expect(statSync(join(root, 'harperdb-config.yaml')).mode & 0o777).toBe(0o644);
    const limits = { keepAliveTimeout: undefined, headersTimeout: undefined, timeout: 120_000, maxHeaderSize: undefined };
    expect(config.http).toEqual({ port: 9926, securePort: null, mtls: false, cors: false, limits, http2: false, trustedProxies: [], proxyProtocol: false });
    expect(config.operationsApi.network).toEqual({ port: 9925, securePort: null, mtls: false, cors: false, limits, domainSocket: null });
    expect(config.storage.path).toBe(join(root, 'database'));
    expect(config.logging).toMatchObject({ level: 'info', file: true, root: join(root, 'log'), stdStreams: false, auditAuthEvents: { logFailed: false, logSuccessful: false } });
    expect(config.logging.rotation).toEqual({ enabled: true, compress: false, intervalMs: null, interval: null, maxSizeBytes: 64 * 1024 * 1024, path: join(root, 'log') });
    expect(config.ignoredHarperKeys).toEqual([]);
    expect(config.operationsApi.tlsInherited).toBe(true);
    expect(config.tls).toHaveLength(1);
    expect(config.tls[0]!.certificate).toMatchObject({ kind: 'file', value: join(root, 'keys', 'certificate.pem'), isDefault: true });
    expect(config.tls[0]!.privateKey.value).toBe(join(root, 'keys', 'privateKey.pem'));
    expect(config.tls[0]!.certificateAuthority!.value).toBe(join(root, 'keys', 'ca.pem'));
    expect(config.authentication).toEqual({ operationTokenTimeout: '1d', operationTokenTimeoutMs: 86_400_000, refreshTokenTimeout: '30d', refreshTokenTimeoutMs: 2_592_000_000, cacheTtlMs: 30_000, authorizeLocal: false });
    expect(config.logging.level).toBe('info');
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('never rewrites an existing file', async () => {
    t = tempDir();
    const file = t.write('harperdb-config.yaml', '# mine\nhttp:\n  port: 8000\n');
    utimesSync(file, new Date(1e12), new Date(1e12));
    const { config, created } = await loadConfig({ root: t.dir, env: {} });
    expect(created).toBe(false);
    expect(config.http.port).toBe(8000);
    expect(readFileSync(file, 'utf8')).toBe('# mine\nhttp:\n  port: 8000\n');
    expect(statSync(file).mtimeMs).toBe(1e12);
  });

  it('does not create a file when createIfMissing is false, and uses the defaults', async () => {
    t = tempDir();
    const { config, created } = await loadConfig({ root: t.dir, env: {}, createIfMissing: false });
    expect(created).toBe(false);
    expect(config.http.port).toBe(9926);
  });

  it('uses ROOTPATH, then ~/hdb', async () => {
    t = tempDir();
    const a = await loadConfig({ env: { ROOTPATH: join(t.dir, 'x') }, createIfMissing: false });
    expect(a.config.rootPath).toBe(join(t.dir, 'x'));
    const b = await loadConfig({ env: {}, homedir: t.dir, createIfMissing: false });
    expect(b.config.rootPath).toBe(join(t.dir, 'hdb'));
  });

  it('a root that cannot be made is a ConfigError naming the file, not an fs stack', async () => {
    t = tempDir();
    const file = t.write('a-file', 'x');
    const root = join(file, 'sub');
    const issues = await issuesOf(loadConfig({ root, env: {} }));
    expect(issues).toEqual([expect.objectContaining({ key: '(file)', file: join(root, 'harperdb-config.yaml'), message: expect.stringMatching(/^cannot create the configuration file: ENOTDIR/) })]);
  });

  it('a stale temporary file of an earlier start (same pid, as pid 1 in a container) does not block the first start', async () => {
    t = tempDir();
    t.write(`harperdb-config.yaml.${process.pid}.tmp`, 'half');
    t.write('harperdb-config.yaml.1.tmp', 'half');
    const { created } = await loadConfig({ root: t.dir, env: {} });
    expect(created).toBe(true);
    expect(readFileSync(join(t.dir, 'harperdb-config.yaml'), 'utf8')).toBe(DEFAULT_CONFIG_YAML);
    expect(readdirSync(t.dir).sort()).toEqual(['harperdb-config.yaml', 'harperdb-config.yaml.1.tmp', `harperdb-config.yaml.${process.pid}.tmp`].sort());
  });

  it('a file that appears while it is being created is kept, and no temporary file is left', async () => {
    t = tempDir();
    // A dangling link is "absent" to the first check and "present" to the create-only-if-absent link.
    symlinkSync(join(t.dir, 'elsewhere.yaml'), join(t.dir, 'harperdb-config.yaml'));
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues).toEqual([expect.objectContaining({ key: '(file)', message: 'cannot read the configuration file: ENOENT' })]);
    expect(readdirSync(t.dir)).toEqual(['harperdb-config.yaml']);
    expect(lstatSync(join(t.dir, 'harperdb-config.yaml')).isSymbolicLink()).toBe(true);
  });

  it('an explicit --config that does not exist is an error', async () => {
    t = tempDir();
    const issues = await issuesOf(loadConfig({ root: t.dir, configFile: join(t.dir, 'nope.yaml'), env: {} }));
    expect(issues[0]!.message).toMatch(/does not exist/);
  });
});

describe('loadConfig: precedence cli > env > file > defaults', () => {
  it('layers every source and records where values came from', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'http:\n  port: 1001\n  securePort: 1002\nlogging:\n  level: warn\n');
    const { config } = await loadConfig({ root: t.dir, env: { HTTP_SECUREPORT: '2002', LOGGING_LEVEL: 'debug' }, overrides: ['--LOGGING_LEVEL', 'error'] });
    expect(config.http.port).toBe(1001);
    expect(config.http.securePort).toBe(2002);
    expect(config.logging.level).toBe('error');
  });

  it('accepts --KEY VALUE, --a.b VALUE and --KEY=VALUE, case-insensitively', async () => {
    t = tempDir();
    const { config } = await loadConfig({
      root: t.dir,
      env: {},
      createIfMissing: false,
      overrides: ['--http_securePort', '3000', '--operationsApi.network.port=3001', '--HTTP_MTLS_REQUIRED', 'true'],
    });
    expect(config.http.securePort).toBe(3000);
    expect(config.operationsApi.network.port).toBe(3001);
    expect(config.http.mtls).toMatchObject({ required: true, user: { kind: 'cn' }, certificateVerification: false });
  });

  it('parses env values as YAML: null, numbers, booleans, flow objects', async () => {
    t = tempDir();
    const { config } = await loadConfig({
      root: t.dir,
      createIfMissing: false,
      env: { HTTP_PORT: 'null', HTTP_SECUREPORT: '9443', HTTP_MTLS: '{"required": true, "certificateVerification": {"ocsp": false}}', HTTP_MTLS_CERTIFICATEVERIFICATION_CRL_TIMEOUT: '2000', PATH: '/bin', HDB_ADMIN_PASSWORD: 'x' },
    });
    expect(config.http.port).toBeNull();
    const mtls = config.http.mtls as Exclude<typeof config.http.mtls, false>;
    expect(mtls.required).toBe(true);
    expect(mtls.certificateVerification).toMatchObject({ crl: { enabled: true, timeout: 2000 }, ocsp: { enabled: false } });
  });

  it('treats an env value containing PEM as inline PEM text', async () => {
    t = tempDir();
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const { config } = await loadConfig({ root: t.dir, createIfMissing: false, env: { TLS_CERTIFICATE: pem, TLS_PRIVATEKEY: '/k.pem' } });
    expect(config.tls[0]!.certificate).toEqual({ kind: 'inline', value: pem, isDefault: false, origin: 'env TLS_CERTIFICATE' });
  });

  it('reads a JSON object holding PEM from the environment as JSON', async () => {
    t = tempDir();
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const key = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
    const { config } = await loadConfig({ root: t.dir, createIfMissing: false, env: { TLS: JSON.stringify({ certificate: cert, privateKey: key }) } });
    expect(config.tls[0]!.certificate).toMatchObject({ kind: 'inline', value: cert, origin: 'env TLS' });
    expect(config.tls[0]!.privateKey).toMatchObject({ kind: 'inline', value: key, origin: 'env TLS' });
  });

  it('never echoes PEM text in an error: it shows (inline PEM)', async () => {
    t = tempDir();
    const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj';
    const key = `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`;
    const messageOf = (p: Promise<unknown>) => p.then(() => expect.fail('should throw'), (err: Error) => err.message);
    // Not JSON (real line breaks inside a JSON string), a PEM where a port belongs, and PEM inside an object where a list belongs.
    const env = { TLS: `{"certificate": "${key}", "privateKey": "x"}`, HTTP_PORT: key, HTTP_CORSACCESSLIST: JSON.stringify({ a: key }) };
    const message = await messageOf(loadConfig({ root: t.dir, createIfMissing: false, env }));
    expect(message).toContain('environment TLS tls = (inline PEM): starts with "{" but is not valid JSON');
    expect(message).toContain('written as \\n');
    expect(message).toContain('environment HTTP_PORT http.port = (inline PEM): ');
    expect(message).toContain('environment HTTP_CORSACCESSLIST http.corsAccessList = {"a":"(inline PEM)"}: ');
    expect(message).not.toContain('BEGIN');
    expect(message).not.toContain(secret.slice(0, 8));
  });

  it('reports unknown and value-less command-line keys', async () => {
    t = tempDir();
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {}, createIfMissing: false, overrides: ['--HTTP_SECURPORT', '1', '--LOGGING_LEVEL'] }));
    expect(issues.map((i) => i.message)).toEqual([expect.stringContaining('needs a value'), expect.stringContaining('did you mean --HTTP_SECUREPORT?')]);
  });
});

describe('loadConfig: paths and tls', () => {
  it('expands ~ and <ROOTPATH>, resolves relative paths against the config file, and keeps inline PEM', async () => {
    t = tempDir();
    t.write(
      'harperdb-config.yaml',
      'tls:\n  certificate: <ROOTPATH>/certs/c.pem\n  privateKey: ~/k.pem\n  certificateAuthority: rel/ca.pem\n  host: [Example.COM, "*.example.com"]\n  ciphers: ECDHE-ECDSA-AES128-GCM-SHA256\n',
    );
    const { config } = await loadConfig({ root: t.dir, env: {}, homedir: '/home/u' });
    const e = config.tls[0]!;
    expect(e.certificate).toMatchObject({ kind: 'file', value: join(t.dir, 'certs', 'c.pem'), isDefault: false });
    expect(e.certificate.origin).toMatch(/harperdb-config\.yaml:2$/);
    expect(e.privateKey.value).toBe('/home/u/k.pem');
    expect(e.certificateAuthority!.value).toBe(join(t.dir, 'rel', 'ca.pem'));
    expect(e.host).toEqual(['example.com', '*.example.com']);
    expect(e.ciphers).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
  });

  it('takes a list of entries for SNI; later entries inherit only the CA', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'tls:\n  - certificate: /a.pem\n    privateKey: /a.key\n    certificateAuthority: /ca.pem\n  - certificate: /b.pem\n    privateKey: /b.key\n    host: b.example\n');
    const { config } = await loadConfig({ root: t.dir, env: {} });
    expect(config.tls.map((e) => [e.certificate.value, e.privateKey.value, e.certificateAuthority?.value, e.host])).toEqual([
      ['/a.pem', '/a.key', '/ca.pem', undefined],
      ['/b.pem', '/b.key', '/ca.pem', ['b.example']],
    ]);
  });

  it('an entry after the first without its own certificate is an error, with its index', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'tls:\n  - certificate: /a.pem\n    privateKey: /a.key\n  - host: b.example\n');
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues).toEqual([expect.objectContaining({ key: 'tls[1]', line: 4, message: expect.stringContaining('needs its own certificate and privateKey') })]);
  });

  it('a cipher list OpenSSL refuses is an issue on its key, not a failure when the server builds its contexts', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'tls:\n  ciphers: FOO\noperationsApi:\n  tls:\n    ciphers: "TLS_AES_128_GCM_SHA256"\n');
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues).toEqual([expect.objectContaining({ key: 'tls.ciphers', line: 2, value: 'FOO', message: expect.stringContaining('OpenSSL accepts none of these ciphers (no cipher match)') })]);
    const env = await issuesOf(loadConfig({ root: t.dir, env: { TLS_CIPHERS: 'NOT-A-CIPHER:ALSO-NOT' }, configFile: t.write('b.yaml', 'http:\n  port: 1\n') }));
    expect(env).toEqual([expect.objectContaining({ key: 'tls.ciphers', source: 'env', name: 'TLS_CIPHERS' })]);
  });

  it('operationsApi.tls inherits tls, field by field', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'tls:\n  certificate: /a.pem\n  privateKey: /a.key\n  certificateAuthority: /ca.pem\noperationsApi:\n  tls:\n    certificateAuthority: /ops-ca.pem\n');
    const { config } = await loadConfig({ root: t.dir, env: {} });
    expect(config.operationsApi.tlsInherited).toBe(false);
    expect(config.operationsApi.tls[0]).toMatchObject({ certificate: { value: '/a.pem' }, privateKey: { value: '/a.key' }, certificateAuthority: { value: '/ops-ca.pem' } });
    const inherited = await loadConfig({ root: t.dir, env: {}, overrides: [] , configFile: t.write('b.yaml', 'tls:\n  certificate: /x.pem\n  privateKey: /x.key\n') });
    expect(inherited.config.operationsApi.tls).toBe(inherited.config.tls);
  });
});

describe('loadConfig: mtls and certificateVerification', () => {
  async function mtlsOf(yaml: string) {
    t = tempDir();
    t.write('harperdb-config.yaml', `http:\n  securePort: 9443\n  mtls: ${yaml}\n`);
    return (await loadConfig({ root: t.dir, env: {} })).config.http.mtls;
  }

  it('true means optional mTLS, CN identity, no revocation checking', async () => {
    expect(await mtlsOf('true')).toEqual({ required: false, user: { kind: 'cn' }, certificateVerification: false });
  });

  it.each([
    ['CN', { kind: 'cn' }],
    ['"Common Name"', { kind: 'cn' }],
    ['null', { kind: 'none' }],
    ['svc-account', { kind: 'fixed', username: 'svc-account' }],
  ])('user: %s', async (value, expected) => {
    expect(await mtlsOf(`{user: ${value}}`)).toMatchObject({ user: expected });
  });

  it('certificateVerification: true is every default of SPEC.md', async () => {
    expect(await mtlsOf('{certificateVerification: true}')).toMatchObject({
      certificateVerification: {
        enabled: true,
        failureMode: 'fail-closed',
        crl: { enabled: true, timeout: 10000, cacheTtl: 86400000, gracePeriod: 86400000, failureMode: 'fail-closed' },
        ocsp: { enabled: true, timeout: 5000, cacheTtl: 3600000, errorCacheTtl: 300000, failureMode: 'fail-closed' },
      },
    });
  });

  it('merges partial method settings and false', async () => {
    expect(await mtlsOf('{certificateVerification: {failureMode: fail-open, crl: {cacheTtl: 5000}, ocsp: false}}')).toMatchObject({
      certificateVerification: { failureMode: 'fail-open', crl: { enabled: true, cacheTtl: 5000, timeout: 10000 }, ocsp: { enabled: false } },
    });
  });

  it('refuses both methods disabled instead of silently checking nothing', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'http:\n  securePort: 9443\n  mtls:\n    certificateVerification:\n      crl: false\n      ocsp: false\n');
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues).toEqual([expect.objectContaining({ key: 'http.mtls.certificateVerification', line: 4, message: expect.stringContaining('certificateVerification: false') })]);
  });

  it('warns that mtls without a securePort does nothing', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'http:\n  mtls: true\n');
    const { warnings } = await loadConfig({ root: t.dir, env: {} });
    expect(warnings).toEqual([expect.objectContaining({ key: 'http.mtls', message: expect.stringContaining('has no effect') })]);
  });
});

describe('loadConfig: every problem at once, located', () => {
  it('reports unknown keys, types, ranges and enums with file, line and value', async () => {
    t = tempDir();
    t.write(
      'harperdb-config.yaml',
      [
        'http:',
        '  port: "9926"',
        '  securePort: 70000',
        '  mtls:',
        '    requred: true',
        '    certificateVerification:',
        '      failureMode: sometimes',
        '      crl: {timeout: 500, cacheTtl: 1.5}',
        '      ocsp: {errorCacheTtl: -1}',
        'authentication:',
        '  operationTokenTimeout: soon',
        'logging:',
        '  level: loud',
        'tls:',
        '  ciphers: 5',
        'rootPth: /x',
        '',
      ].join('\n'),
    );
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    const byKey = Object.fromEntries(issues.map((i) => [i.key, i]));
    expect(Object.keys(byKey).sort()).toEqual(
      [
        'authentication.operationTokenTimeout',
        'http.mtls.certificateVerification.crl.cacheTtl',
        'http.mtls.certificateVerification.crl.timeout',
        'http.mtls.certificateVerification.failureMode',
        'http.mtls.certificateVerification.ocsp.errorCacheTtl',
        'http.mtls.requred',
        'http.port',
        'http.securePort',
        'logging.level',
        'rootPth',
        'tls.ciphers',
      ].sort(),
    );
    expect(byKey['http.securePort']).toMatchObject({ line: 3, column: 3, value: 70000, source: 'file', message: expect.stringContaining('1-65535') });
    expect(byKey['http.port']).toMatchObject({ line: 2, value: '9926' });
    expect(byKey['http.mtls.requred']!.message).toContain('did you mean "required"?');
    expect(byKey['http.mtls.certificateVerification.crl.timeout']).toMatchObject({ line: 8, value: 500, message: expect.stringContaining('>= 1000') });
    expect(byKey['http.mtls.certificateVerification.failureMode']!.message).toContain('"fail-open", "fail-closed"');
    expect(byKey['logging.level']).toMatchObject({ line: 13, value: 'loud' });
    expect(byKey['rootPth']!.message).toContain('did you mean "rootPath"?');
  });

  it('formats the message with file:line:col, key, value and what is allowed', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'http:\n  securePort: 70000\n');
    try {
      await loadConfig({ root: t.dir, env: {} });
      expect.fail('should throw');
    } catch (err) {
      expect((err as Error).message).toContain('harperdb-config.yaml:2:3 http.securePort = 70000: out of range; expected an integer 1-65535, or null to disable');
    }
  });

  it('refuses milliseconds beyond Node\'s longest timer and header sizes Node cannot take, naming key, file and line', async () => {
    t = tempDir();
    t.write(
      'harperdb-config.yaml',
      [
        'http:',
        '  maxHeaderSize: 1e20',
        '  keepAliveTimeout: 2147483648',
        '  mtls:',
        '    certificateVerification:',
        '      crl: {timeout: 3000000000, gracePeriod: 2592000000}',
        '      ocsp: {timeout: 3000000000, cacheTtl: 2147483647}',
        'cluster:',
        '  url: postgres://u@db/d',
        '  pollInterval: 3000000000',
        '  changeRetention: 2592000000',
        '',
      ].join('\n'),
    );
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    const byKey = Object.fromEntries(issues.map((i) => [i.key, i]));
    expect(Object.keys(byKey).sort()).toEqual(
      ['cluster.pollInterval', 'http.keepAliveTimeout', 'http.maxHeaderSize', 'http.mtls.certificateVerification.crl.timeout', 'http.mtls.certificateVerification.ocsp.timeout'].sort(),
    );
    expect(byKey['http.maxHeaderSize']).toMatchObject({ line: 2, value: 1e20, file: join(t.dir, 'harperdb-config.yaml'), message: expect.stringContaining('1024-2147483647') });
    expect(byKey['http.keepAliveTimeout']).toMatchObject({ line: 3, message: expect.stringContaining('2147483647') });
    expect(byKey['http.mtls.certificateVerification.crl.timeout']).toMatchObject({ line: 6, value: 3_000_000_000, message: expect.stringContaining('too large') });
    expect(byKey['cluster.pollInterval']).toMatchObject({ line: 10, message: expect.stringContaining('100-2147483647') });
  });

  it('names both keys when two listeners share a port, from any source', async () => {
    t = tempDir();
    const issues = await issuesOf(loadConfig({ root: t.dir, env: { HTTP_SECUREPORT: '9926' }, createIfMissing: false }));
    expect(issues).toEqual([expect.objectContaining({ key: 'http.securePort', source: 'env', name: 'HTTP_SECUREPORT', message: expect.stringContaining('same port as http.port') })]);
  });

  it('reports YAML syntax errors with their line instead of a stack', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'http:\n  port: 1\n  port: 2\nlogging: [\n');
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatchObject({ key: '(file)', source: 'file' });
    expect(issues[0]!.line).toBeGreaterThanOrEqual(3);
    expect(issues[0]!.message).toMatch(/YAML syntax error/);
  });

  it('rejects a top-level value that is not a mapping', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', '- a\n- b\n');
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues[0]!.message).toMatch(/mapping/);
  });

  it.each([
    ['http:\n  mtls: yes-please\n', 'http.mtls'],
    ['http:\n  mtls:\n    certificateVerification: 1\n', 'http.mtls.certificateVerification'],
    ['http:\n  mtls:\n    certificateVerification:\n      crl: "on"\n', 'http.mtls.certificateVerification.crl'],
    ['tls: []\n', 'tls'],
    ['tls: 5\n', 'tls'],
    ['tls:\n  certificate: ""\n', 'tls.certificate'],
    ['tls:\n  host: "not a host!"\n', 'tls.host'],
    ['http:\n  mtls:\n    user: 5\n', 'http.mtls.user'],
    ['http:\n  mtls:\n    required: "yes"\n', 'http.mtls.required'],
    ['tls:\n  certificate: /a.pem\n', 'tls'],
  ])('%j is an error at %s', async (yaml, key) => {
    t = tempDir();
    t.write('harperdb-config.yaml', yaml);
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues.map((i) => i.key)).toContain(key);
  });
});
