import { afterAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempRoot } from '../helpers/run.js';
import { freePorts, kill9, portArgs, probeMount, spawnCli, type Child } from './harness.js';

/**
 * The embedded store's disk is full while the server runs (issue 7, faults). `<root>/database` is a
 * 4 MiB tmpfs, filled with a file after start. Writes (add_user, add_certificate, alter_user) must
 * answer 500 with the cause, the server must stay up and keep answering reads and authentication,
 * nothing half-applied must be served, and writes work again once space is freed.
 * Mounting needs root on Linux with the right to mount (probed first; CI runs as root); where it is
 * not allowed vitest reports the suite as skipped.
 */
const sh = promisify(execFile);
const canMount = probeMount();

function op(port: number, body: object, auth = 'admin:admin-pw'): Promise<{ status: number; body: any }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', auth, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('operation timed out')));
    req.end(data);
  });
}

function health(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/health' }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    })
      .on('error', reject)
      .end();
  });
}

describe.runIf(canMount)('the embedded store runs out of disk space while serving', () => {
  const { root, cleanup } = tempRoot();
  const db = join(root, 'database');
  let child: Child | undefined;
  afterAll(async () => {
    if (child) await kill9(child);
    await sh('umount', [db]).catch(() => {});
    cleanup();
  });

  it('writes answer 500 with the cause, reads and authentication keep working, writes resume once space is freed', async () => {
    mkdirSync(db, { recursive: true });
    await sh('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', db]);
    const ports = await freePorts();
    child = spawnCli(['start', '--root', root, ...portArgs(ports)], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' });
    await child.waitFor('operations ');
    expect((await op(ports.ops, { operation: 'add_user', username: 'before', password: 'before-password', role: 'user' })).status).toBe(200);

    // Fill the disk: write until ENOSPC.
    const filler = join(db, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(8 << 20));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }

    const addUser = await op(ports.ops, { operation: 'add_user', username: 'during', password: 'during-password', role: 'user' });
    expect(addUser.status).toBe(500);
    expect(addUser.body.error).toMatch(/could not be written.*No space left on device/);

    const cert = readFileSync(join(root, 'keys', 'certificate.pem'), 'utf8');
    const key = readFileSync(join(root, 'keys', 'privateKey.pem'), 'utf8');
    const addCert = await op(ports.ops, { operation: 'add_certificate', name: 'during', certificate: cert, private_key: key });
    expect(addCert.status).toBe(500);
    expect(addCert.body.error).toMatch(/could not be written.*No space left on device/);
    expect(JSON.stringify(addCert.body)).not.toContain('PRIVATE KEY');

    const alter = await op(ports.ops, { operation: 'alter_user', username: 'before', active: false });
    expect(alter.status).toBe(500);

    // Still up: health, reads, Basic authentication of stored users; nothing half-applied.
    expect(await health(ports.http)).toBe(200);
    const certs = await op(ports.ops, { operation: 'list_certificates' });
    expect(certs.status).toBe(200);
    expect(JSON.stringify(certs.body)).not.toContain('"during"');
    const users = await op(ports.ops, { operation: 'list_users' });
    expect(users.status).toBe(200);
    expect(users.body.map((u: { username: string }) => u.username).sort()).toEqual(['admin', 'before']);
    expect((await op(ports.ops, { operation: 'user_info' }, 'before:before-password')).status).toBe(200);
    expect(child.proc.exitCode).toBe(null);

    // Space freed: writes work again, without a restart.
    rmSync(filler);
    expect((await op(ports.ops, { operation: 'add_user', username: 'after', password: 'after-password', role: 'user' })).status).toBe(200);
    expect((await op(ports.ops, { operation: 'add_certificate', name: 'after', certificate: cert, private_key: key })).status).toBe(200);
    expect(child.proc.exitCode).toBe(null);
    expect(child.stderr()).not.toMatch(/unhandled promise rejection/);
    // The server's own log (logging.file, the default): <ROOTPATH>/log/hdb.log.
    expect(readFileSync(join(root, 'log', 'hdb.log'), 'utf8')).not.toMatch(/unhandled promise rejection/);
  }, 60_000);
});

