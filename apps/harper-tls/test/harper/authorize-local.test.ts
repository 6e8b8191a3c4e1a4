import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, freePort, run, tempRoot, type Run } from '../helpers/run.js';

describe('authentication.authorizeLocal: true', () => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { http: number; ops: number };
  const socket = join(root, 'ops.sock');

  beforeAll(async () => {
    ports = { http: await freePort(), ops: await freePort() };
    writeFileSync(join(root, 'harperdb-config.yaml'), `http: {port: ${ports.http}}\noperationsApi: {network: {port: ${ports.ops}, domainSocket: ops.sock}}\nauthentication: {authorizeLocal: true}\nlogging: {level: warn}\n`);
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'boss', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    await server.waitFor('operations-socket ');
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('warns at start', () => {
    expect(server.stderr()).toContain('warning: authentication.authorizeLocal is on');
  });

  it('a loopback request without credentials is the admin created at first start, authenticatedBy local', async () => {
    const r = await curl([`http://127.0.0.1:${ports.http}/whoami`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ username: 'boss', role: 'super_user', authenticatedBy: 'local' });
    const ops = await curl(['-H', 'content-type: application/json', '-d', '{"operation":"list_users"}', `http://127.0.0.1:${ports.ops}/`]);
    expect(ops.status).toBe(200);
  });

  it('so is a request on the domain socket', async () => {
    const r = await curl(['--unix-socket', socket, '-H', 'content-type: application/json', '-d', '{"operation":"user_info"}', 'http://localhost/']);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ username: 'boss' });
  });

  it('wrong credentials still get 401, right ones are what they are', async () => {
    expect(await curl(['-u', 'boss:wrong', `http://127.0.0.1:${ports.http}/whoami`])).toEqual({ status: 401, body: '{"error":"Login failed"}' });
    expect(JSON.parse((await curl(['-u', 'boss:pw-for-tests', `http://127.0.0.1:${ports.http}/whoami`])).body).authenticatedBy).toBe('basic');
  });

  it('never for a request carrying a forwarded address', async () => {
    for (const h of ['X-Forwarded-For: 203.0.113.7', 'Forwarded: for=203.0.113.7', 'X-Real-IP: 203.0.113.7']) {
      expect(await curl(['-H', h, `http://127.0.0.1:${ports.http}/whoami`])).toEqual({ status: 401, body: '{"error":"Login failed"}' });
      expect((await curl(['--unix-socket', socket, '-H', h, '-H', 'content-type: application/json', '-d', '{"operation":"user_info"}', 'http://localhost/'])).status).toBe(401);
    }
  });
});
