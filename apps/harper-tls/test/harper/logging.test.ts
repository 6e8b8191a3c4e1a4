import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, freePort, run, runToEnd, tempRoot, type Run } from '../helpers/run.js';
import { kill9, spawnCli } from '../reliability/harness.js';

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Waits (bounded) until the log file holds a line that `match` accepts; pino writes asynchronously. */
async function logLine(file: string, match: (l: Record<string, unknown>) => boolean, ms = 5000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = existsSync(file) ? jsonLines(readFileSync(file, 'utf8')).find(match) : undefined;
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no matching line in ${file} after ${ms} ms:\n${existsSync(file) ? readFileSync(file, 'utf8') : '(no file)'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('logging: <ROOTPATH>/log/hdb.log by default, audit lines for failed and successful logins', () => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { http: number; https: number; ops: number };
  const file = join(root, 'log', 'hdb.log');

  beforeAll(async () => {
    ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
    writeFileSync(
      join(root, 'harperdb-config.yaml'),
      `http: {port: ${ports.http}, securePort: ${ports.https}, mtls: true}\noperationsApi: {network: {port: ${ports.ops}}}\nlogging:\n  level: warn\n  auditAuthEvents: {logFailed: true, logSuccessful: true}\nmqtt: {webSocket: true}\n`,
    );
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    await server.waitFor('operations ');
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('logs to hdb.log (the ignored-keys line included, at warn), not to the output', async () => {
    const line = await logLine(file, (l) => String(l.msg).startsWith('ignored Harper keys'));
    expect(line).toMatchObject({ level: 40, keys: ['mqtt'] });
    expect(jsonLines(server.stdout())).toEqual([]);
  });

  it('a failed login is one warn line: user, method, client address; never the password', async () => {
    expect((await curl(['-u', 'admin:secret-wrong-pw', `http://127.0.0.1:${ports.http}/whoami`])).status).toBe(401);
    const line = await logLine(file, (l) => l.audit === 'authentication' && l.outcome === 'failure');
    expect(line).toMatchObject({ level: 40, user: 'admin', method: 'basic', remote: '127.0.0.1', listener: 'http' });
    expect(readFileSync(file, 'utf8')).not.toContain('secret-wrong-pw');
  });

  it('a refused client certificate is a warn line with its CN and fingerprint; successes are info, not written at warn', async () => {
    expect((await runToEnd(['cert', 'issue', '--root', root, '--cn', 'nobody', '--out', join(root, 'issued')])).code).toBe(0);
    const certFile = join(root, 'issued', 'nobody.pem');
    const r = await curl(['--cacert', join(root, 'keys', 'ca.pem'), '--cert', certFile, '--key', join(root, 'issued', 'nobody-key.pem'), `https://localhost:${ports.https}/whoami`]);
    expect(r.status).toBe(401);
    const fingerprint = new X509Certificate(readFileSync(certFile)).fingerprint256;
    const line = await logLine(file, (l) => l.outcome === 'failure' && l.method === 'mtls');
    expect(line).toMatchObject({ level: 40, user: 'nobody', method: 'mtls', remote: '127.0.0.1', listener: 'https', fingerprint256: fingerprint });
    expect((await curl(['-u', 'admin:pw-for-tests', `http://127.0.0.1:${ports.http}/whoami`])).status).toBe(200);
    expect(jsonLines(readFileSync(file, 'utf8')).filter((l) => l.outcome === 'success')).toEqual([]);
  });
});

describe('logging: stdStreams to stdout, file off, successful audit at info', () => {
  const { root, cleanup } = tempRoot();
  let ports: { http: number; ops: number };

  beforeAll(async () => {
    ports = { http: await freePort(), ops: await freePort() };
  });
  afterAll(() => cleanup());

  it('writes JSON lines to stdout and no hdb.log', async () => {
    writeFileSync(join(root, 'harperdb-config.yaml'), `http: {port: ${ports.http}}\noperationsApi: {network: {port: ${ports.ops}}}\nlogging: {level: info, file: false, stdStreams: true, auditAuthEvents: {logSuccessful: true}}\n`);
    const child = spawnCli(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    try {
      await child.waitFor('operations ');
      expect((await curl(['-u', 'admin:pw-for-tests', `http://127.0.0.1:${ports.http}/whoami`])).status).toBe(200);
      const deadline = Date.now() + 5000;
      while (!jsonLines(child.stdout()).some((l) => l.outcome === 'success') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(jsonLines(child.stdout()).find((l) => l.outcome === 'success')).toMatchObject({ level: 30, user: 'admin', method: 'basic', remote: '127.0.0.1' });
      expect(existsSync(join(root, 'log', 'hdb.log'))).toBe(false);
    } finally {
      await kill9(child);
    }
  });
});
