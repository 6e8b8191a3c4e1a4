import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { curl, exec, freePort, run, runToEnd, tempRoot, type Run } from './helpers/run.js';
import { tlsProbe } from './helpers/tls-probe.js';

describe('harper-tls start: first run, reuse, configuration errors', () => {
  const { root, cleanup } = tempRoot();
  let ports: { http: number; https: number; ops: number };
  let server: Run;
  const keys = join(root, 'keys');

  beforeAll(async () => {
    ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
    server = run(['start', '--root', root, '--HTTP_PORT', String(ports.http), '--HTTP_SECUREPORT', String(ports.https), '--OPERATIONSAPI_NETWORK_PORT', String(ports.ops)], {});
    await server.waitFor('operations ');
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('creates the config, the keys (0600) and prints every URL', () => {
    expect(existsSync(join(root, 'harperdb-config.yaml'))).toBe(true);
    for (const f of ['ca.pem', 'certificate.pem']) expect(statSync(join(keys, f)).mode & 0o777).toBe(0o644);
    for (const f of ['ca-privateKey.pem', 'privateKey.pem']) expect(statSync(join(keys, f)).mode & 0o777).toBe(0o600);
    expect(server.stdout()).toContain(`https://localhost:${ports.https}/`);
    expect(server.stdout()).toContain(`http://localhost:${ports.http}/`);
    expect(server.stdout()).toContain(`http://localhost:${ports.ops}/`);
    // Bound to every interface (no host configured): said so, with the address the OS reports.
    expect(server.stdout()).toMatch(new RegExp(`^https +listening on https://(\\[::\\]|0\\.0\\.0\\.0):${ports.https}/ \\(all interfaces, e\\.g\\. https://localhost:${ports.https}/\\)$`, 'm'));
    expect(server.stdout()).not.toMatch(/listening on https?:\/\/localhost/);
  });

  it('serves HTTPS that curl trusts with the generated CA', async () => {
    const r = await curl(['--cacert', join(keys, 'ca.pem'), `https://localhost:${ports.https}/health`]);
    expect(r).toEqual({ status: 200, body: '{"status":"ok"}' });
    const ip = await curl(['--cacert', join(keys, 'ca.pem'), `https://127.0.0.1:${ports.https}/health`]);
    expect(ip.status).toBe(200);
  });

  it('generates a certificate openssl verifies, with the SANs of SPEC.md', () => {
    const out = execFileSync('openssl', ['verify', '-CAfile', join(keys, 'ca.pem'), join(keys, 'certificate.pem')], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/: OK$/);
    const cert = new X509Certificate(readFileSync(join(keys, 'certificate.pem')));
    const sans = cert.subjectAltName!;
    expect(sans).toContain('DNS:localhost');
    expect(sans).toContain('IP Address:127.0.0.1');
    expect(sans).toMatch(/IP Address:(::1|0:0:0:0:0:0:0:1)/);
    expect(sans).toContain(`DNS:${hostname().toLowerCase()}`);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(BigInt(`0x${cert.serialNumber}`) >= 2n ** 63n || cert.serialNumber.length >= 16).toBe(true);
  });

  it('created the admin user with a password printed once, usable for Basic auth', async () => {
    const m = /with password: (\S+)/.exec(server.stdout());
    expect(m).not.toBeNull();
    const r = await curl(['-u', `admin:${m![1]}`, `http://127.0.0.1:${ports.http}/whoami`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ username: 'admin', role: 'super_user', authenticatedBy: 'basic' });
    expect(await curl(['-u', 'admin:wrong', `http://127.0.0.1:${ports.http}/whoami`])).toEqual({ status: 401, body: '{"error":"Login failed"}' });
  });

  it('a second start reuses the keys and never rewrites the config', async () => {
    await server.stop();
    const before = readFileSync(join(keys, 'certificate.pem'), 'utf8');
    const caKey = readFileSync(join(keys, 'ca-privateKey.pem'), 'utf8');
    appendFileSync(join(root, 'harperdb-config.yaml'), '\n# my own comment\n');
    const config = readFileSync(join(root, 'harperdb-config.yaml'), 'utf8');
    server = run(['start', '--root', root, '--HTTP_PORT', String(ports.http), '--HTTP_SECUREPORT', String(ports.https), '--OPERATIONSAPI_NETWORK_PORT', String(ports.ops)], {});
    await server.waitFor('operations ');
    expect(server.stdout()).not.toContain('Generated');
    expect(server.stdout()).not.toContain('with password');
    expect(readFileSync(join(keys, 'certificate.pem'), 'utf8')).toBe(before);
    expect(readFileSync(join(keys, 'ca-privateKey.pem'), 'utf8')).toBe(caKey);
    expect(readFileSync(join(root, 'harperdb-config.yaml'), 'utf8')).toBe(config);
  });

  it('renew-certs replaces the server certificate, keeps the CA, and the running server serves the new one', async () => {
    const oldCert = new X509Certificate(readFileSync(join(keys, 'certificate.pem')));
    const ca = readFileSync(join(keys, 'ca.pem'), 'utf8');
    const r = await runToEnd(['renew-certs', '--root', root]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Successfully renewed self-signed certificates');
    const newCert = new X509Certificate(readFileSync(join(keys, 'certificate.pem')));
    expect(newCert.serialNumber).not.toBe(oldCert.serialNumber);
    expect(readFileSync(join(keys, 'ca.pem'), 'utf8')).toBe(ca);
    // The file watcher picks the new pair up; poll the served certificate (bounded) until it does.
    const deadline = Date.now() + 15_000;
    let served = '';
    while (Date.now() < deadline) {
      served = (await tlsProbe(ports.https)).certificate.serialNumber;
      if (served === newCert.serialNumber) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(served).toBe(newCert.serialNumber);
  });
});

describe('harper-tls start: ca.pem replaced by the user\'s own client CA, the generated ca-privateKey.pem still there', () => {
  it('start and renew-certs keep and reuse every file; the local CA commands say it is not available', async () => {
    const { root, cleanup } = tempRoot();
    const keys = join(root, 'keys');
    const ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
    const args = ['start', '--root', root, '--HTTP_PORT', String(ports.http), '--HTTP_SECUREPORT', String(ports.https), '--OPERATIONSAPI_NETWORK_PORT', String(ports.ops)];
    let server = run(args, {});
    try {
      await server.waitFor('operations ');
      await server.stop();
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(root, 'own-ca.key'), '-out', join(keys, 'ca.pem'), '-days', '2', '-subj', '/CN=My client CA', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
      const before = Object.fromEntries(['ca.pem', 'ca-privateKey.pem', 'certificate.pem', 'privateKey.pem'].map((f) => [f, readFileSync(join(keys, f), 'utf8')]));
      server = run(args, {});
      await server.waitFor('operations ');
      expect((await curl(['-k', `https://127.0.0.1:${ports.https}/health`])).status).toBe(200);
      const issue = await runToEnd(['cert', 'issue', '--root', root, '--cn', 'alice']);
      expect(issue.code).toBe(1);
      expect(issue.stderr).toContain('ca.pem is not the certificate of ca-privateKey.pem');
      const renew = await runToEnd(['renew-certs', '--root', root]);
      expect(renew.code).toBe(0);
      expect(renew.stdout).toContain(`kept ${join(keys, 'certificate.pem')}: cannot be reissued: `);
      expect(renew.stdout).not.toContain('Successfully renewed');
      expect(renew.stdout).toContain('Nothing renewed');
      for (const [f, text] of Object.entries(before)) expect(readFileSync(join(keys, f), 'utf8')).toBe(text);
    } finally {
      await server.stop();
      cleanup();
    }
  });
});

describe('harper-tls start: HDB_ADMIN_USERNAME= and HDB_ADMIN_PASSWORD= set but empty', () => {
  it('count as unset: user "admin" with a generated password, printed once', async () => {
    const { root, cleanup } = tempRoot();
    const ports = { http: await freePort(), ops: await freePort() };
    const server = run(['start', '--root', root, '--HTTP_PORT', String(ports.http), '--OPERATIONSAPI_NETWORK_PORT', String(ports.ops)], { HDB_ADMIN_USERNAME: '', HDB_ADMIN_PASSWORD: '' });
    try {
      await server.waitFor('operations ');
      const m = /Created user "admin" \(super_user\) with password: (\S+)/.exec(server.stdout());
      expect(m).not.toBeNull();
      const r = await curl(['-u', `admin:${m![1]}`, `http://127.0.0.1:${ports.http}/whoami`]);
      expect(JSON.parse(r.body)).toEqual({ username: 'admin', role: 'super_user', authenticatedBy: 'basic' });
    } finally {
      await server.stop();
      cleanup();
    }
  });
});

describe('harper-tls start: bad configuration stops the start with exit 1 and says where', () => {
  it('names file, line, key and value for every problem at once', async () => {
    const { root, cleanup } = tempRoot();
    try {
      writeFileSync(join(root, 'harperdb-config.yaml'), 'http:\n  port: 9926\n  securePort: 70000\n  mtls:\n    requred: true\n');
      const r = await runToEnd(['start', '--root', root]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('harperdb-config.yaml:3');
      expect(r.stderr).toContain('http.securePort');
      expect(r.stderr).toContain('70000');
      expect(r.stderr).toContain('requred');
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(existsSync(join(root, 'keys'))).toBe(false); // nothing generated for a config that cannot start
    } finally {
      cleanup();
    }
  });

  it('rejects port == securePort', async () => {
    const { root, cleanup } = tempRoot();
    try {
      const r = await runToEnd(['start', '--root', root, '--HTTP_PORT', '9500', '--HTTP_SECUREPORT', '9500']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/9500/);
      expect(r.stderr).toMatch(/securePort/i);
    } finally {
      cleanup();
    }
  });

  it('rejects an applications[].upstreamTls key that does not match its certificate, naming the key', async () => {
    const { root, cleanup } = tempRoot();
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(root, 'a.key'), '-out', join(root, 'a.pem'), '-days', '2', '-subj', '/CN=a'], { stdio: 'ignore' });
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(root, 'b.key')], { stdio: 'ignore' });
      writeFileSync(join(root, 'harperdb-config.yaml'), `applications:\n  - path: /api\n    upstream: https://127.0.0.1:1\n    upstreamTls:\n      certificate: ${join(root, 'a.pem')}\n      privateKey: ${join(root, 'b.key')}\n`);
      const r = await runToEnd(['start', '--root', root, '--HTTP_PORT', String(await freePort()), '--OPERATIONSAPI_NETWORK_PORT', String(await freePort())]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('applications[0].upstreamTls.privateKey');
      expect(r.stderr).toMatch(/does not match the certificate/);
      expect(r.stderr).not.toContain('    at ');
    } finally {
      cleanup();
    }
  });

  it('rejects a key that does not match its certificate, naming the file', async () => {
    const { root, cleanup } = tempRoot();
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(root, 'a.key'), '-out', join(root, 'a.pem'), '-days', '2', '-subj', '/CN=a'], { stdio: 'ignore' });
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(root, 'b.key')], { stdio: 'ignore' });
      writeFileSync(join(root, 'harperdb-config.yaml'), `tls:\n  certificate: ${join(root, 'a.pem')}\n  privateKey: ${join(root, 'b.key')}\n  certificateAuthority: ${join(root, 'a.pem')}\n`);
      const r = await runToEnd(['start', '--root', root, '--HTTP_SECUREPORT', String(await freePort())]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/does not match/i);
      expect(r.stderr).toContain('b.key');
    } finally {
      cleanup();
    }
  });
});
