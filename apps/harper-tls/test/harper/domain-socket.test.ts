import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, freePort, run, runToEnd, tempRoot, type Run } from '../helpers/run.js';

/** Leaves a socket file nobody listens on: a process binds it and is killed before it can unlink it. */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  expect(lstatSync(path).isSocket()).toBe(true);
}

const userInfo = ['-H', 'content-type: application/json', '-d', '{"operation":"user_info"}'];

describe('operationsApi.network.domainSocket', () => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { http: number; ops: number };
  const socket = join(root, 'run', 'ops.sock');

  beforeAll(async () => {
    ports = { http: await freePort(), ops: await freePort() };
    mkdirSync(join(root, 'run'));
    await staleSocket(socket);
    writeFileSync(join(root, 'harperdb-config.yaml'), `http: {port: ${ports.http}}\noperationsApi:\n  network:\n    port: ${ports.ops}\n    domainSocket: run/ops.sock\nlogging: {level: warn}\n`);
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    await server.waitFor('operations-socket ');
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('listens on the socket (relative to ROOTPATH), replacing the stale one, with mode 0600', () => {
    expect(server.stdout()).toContain(`operations-socket listening on unix:${socket}`);
    expect(lstatSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  });

  it('authenticates a request on it like any other: Basic works, none or wrong credentials get 401', async () => {
    const ok = await curl(['--unix-socket', socket, '-u', 'admin:pw-for-tests', ...userInfo, 'http://localhost/']);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ username: 'admin', role: 'super_user' });
    expect(await curl(['--unix-socket', socket, ...userInfo, 'http://localhost/'])).toEqual({ status: 401, body: '{"error":"Login failed"}' });
    expect((await curl(['--unix-socket', socket, '-u', 'admin:wrong', ...userInfo, 'http://localhost/'])).status).toBe(401);
  });

  it('a second server cannot take a live socket; stopping removes it', async () => {
    const other = await runToEnd(['start', '--root', root, '--HTTP_PORT', String(await freePort()), '--OPERATIONSAPI_NETWORK_PORT', String(await freePort())]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('another process is listening on it');
    await server.stop();
    expect(existsSync(socket)).toBe(false);
  });
});
