import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, freePort, run, runToEnd, tempRoot, type Run } from '../helpers/run.js';

/** Harper's own `static/defaultConfig.yaml`, kept as a fixture of the config package (source named there). */
const HARPER_DEFAULT = readFileSync(new URL('../../../../packages/config/test/fixtures/harper-defaultConfig.yaml', import.meta.url), 'utf8');

const ignoredLines = (out: string) => out.split('\n').filter((l) => l.startsWith('ignored Harper keys'));

describe("harper-tls start with Harper's own defaultConfig.yaml, unchanged", () => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { https: number; ops: number };

  beforeAll(async () => {
    ports = { https: await freePort(), ops: await freePort() };
    writeFileSync(join(root, 'harperdb-config.yaml'), HARPER_DEFAULT);
    server = run(['start', '--root', root, '--HTTP_SECUREPORT', String(ports.https), '--OPERATIONSAPI_NETWORK_SECUREPORT', String(ports.ops)], {
      HDB_ADMIN_USERNAME: 'admin',
      HDB_ADMIN_PASSWORD: 'pw-for-tests',
    });
    await server.waitFor('operations-secure ');
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('starts, and names the ignored Harper keys in one line', () => {
    expect(readFileSync(join(root, 'harperdb-config.yaml'), 'utf8')).toBe(HARPER_DEFAULT);
    expect(ignoredLines(server.stdout())).toEqual([
      'ignored Harper keys (not used by harper-tls): http.compressionThreshold, threads.debug, authentication.enableSessions, analytics, applications, componentsRoot, localStudio, logging.auditLog, logging.auditRetention, mqtt, storage.writeAsync, storage.caching, storage.compression, storage.noReadAhead, storage.prefetchWrites',
    ]);
    expect(server.stdout()).toContain(`https://localhost:${ports.https}/`);
    expect(server.stdout()).not.toMatch(/^http +listening/m); // http.port: null
  });

  it('serves HTTPS and the Operations API over HTTPS, as the file says', async () => {
    const ca = join(root, 'keys', 'ca.pem');
    expect(await curl(['--cacert', ca, `https://localhost:${ports.https}/health`])).toEqual({ status: 200, body: '{"status":"ok"}' });
    const r = await curl(['--cacert', ca, '-u', 'admin:pw-for-tests', '-H', 'content-type: application/json', '-d', '{"operation":"user_info"}', `https://localhost:${ports.ops}/`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ username: 'admin', role: 'super_user' });
  });

  it("listens on the file's domain socket, <ROOTPATH>/hdb/operations-server, authenticated", async () => {
    const socket = join(root, 'hdb', 'operations-server');
    const r = await curl(['--unix-socket', socket, '-u', 'admin:pw-for-tests', '-H', 'content-type: application/json', '-d', '{"operation":"user_info"}', 'http://localhost/']);
    expect(r.status).toBe(200);
    expect((await curl(['--unix-socket', socket, '-H', 'content-type: application/json', '-d', '{"operation":"user_info"}', 'http://localhost/'])).status).toBe(401);
  });

  it("applies the file's CORS: the Operations API allows any origin (cors: true, ['*']), the application server none (cors: false)", async () => {
    const ca = join(root, 'keys', 'ca.pem');
    const pre = await curl(['--cacert', ca, '-D', '-', '-o', '/dev/null', '-X', 'OPTIONS', '-H', 'Origin: https://studio.example', '-H', 'Access-Control-Request-Method: POST', `https://localhost:${ports.ops}/`]);
    expect(pre.body).toMatch(/^HTTP\/\S+ 204/);
    expect(pre.body.toLowerCase()).toContain('access-control-allow-origin: https://studio.example');
    const app = await curl(['--cacert', ca, '-D', '-', '-o', '/dev/null', '-H', 'Origin: https://studio.example', `https://localhost:${ports.https}/health`]);
    expect(app.body.toLowerCase()).not.toContain('access-control-allow-origin');
  });
});

describe('harper-tls start with a production-like Harper file: mTLS, certificateVerification, several tls entries', () => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { http: number; https: number; ops: number };
  const issued = join(root, 'issued');
  const other = join(root, 'other');

  beforeAll(async () => {
    ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
    mkdirSync(other);
    // A second server certificate, for SNI name b.test, from its own CA.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(other, 'b-key.pem'), '-out', join(other, 'b.pem'), '-days', '2', '-subj', '/CN=b.test', '-addext', 'subjectAltName=DNS:b.test'], { stdio: 'ignore' });
    writeFileSync(
      join(root, 'harperdb-config.yaml'),
      `# grown by a Harper install
http:
  compressionThreshold: 1200
  cors: false
  corsAccessList: [null]
  keepAliveTimeout: 30000
  port: ${ports.http}
  securePort: ${ports.https}
  http2: false
  timeout: 120000
  maxHeaderSize: 32768
  mtls:
    required: true
    user: Common Name
    certificateVerification:
      failureMode: fail-closed
      crl: {enabled: true, timeout: 5000, cacheTtl: 60000}
      ocsp: {enabled: true, timeout: 5000}
threads: {count: 2, debug: false, maxHeapMemory: 2048}
authentication:
  authorizeLocal: false
  cacheTTL: 30000
  enableSessions: true
  operationTokenTimeout: 1d
  refreshTokenTimeout: 30d
  hashFunction: sha256
analytics: {aggregatePeriod: 60, replicate: false}
componentsRoot: ${join(root, 'components')}
localStudio: {enabled: false}
logging:
  auditAuthEvents: {logFailed: true, logSuccessful: false}
  auditLog: false
  file: true
  level: warn
  root: ${join(root, 'log')}
  rotation: {enabled: true, compress: true, interval: 1D, maxSize: 100M, retention: 30D}
  stdStreams: false
mqtt:
  network: {port: null, securePort: 8883, mtls: {required: false}}
  webSocket: true
  requireAuthentication: true
operationsApi:
  network:
    cors: true
    corsAccessList: ['*']
    port: ${ports.ops}
    securePort: null
replication:
  hostname: node1.example.com
  databases: '*'
  routes: [node2.example.com]
rootPath: ${root}
storage:
  writeAsync: false
  caching: true
  compression: {threshold: 500}
  path: ${join(root, 'data')}
tls:
  - certificate: <ROOTPATH>/keys/certificate.pem
    privateKey: <ROOTPATH>/keys/privateKey.pem
    certificateAuthority: <ROOTPATH>/keys/ca.pem
  - certificate: ${join(other, 'b.pem')}
    privateKey: ${join(other, 'b-key.pem')}
    host: b.test
node: {hostname: node1.example.com}
`,
    );
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    await server.waitFor('operations ');
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('starts with one line of ignored keys and nothing else to change', () => {
    expect(ignoredLines(server.stdout())).toEqual([
      'ignored Harper keys (not used by harper-tls): http.compressionThreshold, threads.debug, threads.maxHeapMemory, authentication.enableSessions, authentication.hashFunction, analytics, componentsRoot, localStudio, logging.auditLog, logging.rotation.retention, mqtt, replication, storage.writeAsync, storage.caching, storage.compression',
    ]);
  });

  it('mTLS is required and the CN is the user; the second tls entry answers its SNI name', async () => {
    const issue = await runToEnd(['cert', 'issue', '--root', root, '--cn', 'admin', '--out', issued]);
    expect(issue.code).toBe(0);
    const ca = join(root, 'keys', 'ca.pem');
    const client = ['--cert', join(issued, 'admin.pem'), '--key', join(issued, 'admin-key.pem')];
    const who = await curl(['--cacert', ca, ...client, `https://localhost:${ports.https}/whoami`]);
    expect(who.status).toBe(200);
    expect(JSON.parse(who.body)).toEqual({ username: 'admin', role: 'super_user', authenticatedBy: 'mtls' });
    // Without a client certificate the handshake fails (required: true).
    await expect(curl(['--cacert', ca, `https://localhost:${ports.https}/health`])).rejects.toThrow();
    const b = await curl(['--cacert', join(other, 'b.pem'), ...client, '--resolve', `b.test:${ports.https}:127.0.0.1`, `https://b.test:${ports.https}/health`]);
    expect(b).toEqual({ status: 200, body: '{"status":"ok"}' });
  });

  it('keeps its store where storage.path says', async () => {
    const r = await curl(['-u', 'admin:pw-for-tests', '-H', 'content-type: application/json', '-d', '{"operation":"list_users"}', `http://127.0.0.1:${ports.ops}/`]);
    expect(r.status).toBe(200);
    expect(readFileSync(join(root, 'data', 'users.mdb')).length).toBeGreaterThan(0);
  });
});
