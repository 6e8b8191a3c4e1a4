import { afterAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { tempRoot } from '../helpers/run.js';
import { freePorts, kill9, portArgs, probeMount, sleep, spawnCli } from './harness.js';

/** The fingerprint of the certificate the HTTPS listener presents. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, timeout: 5000 }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
    s.on('timeout', () => s.destroy(new Error('TLS connect timed out')));
  });
}

describe('faults', () => {
  const roots: Array<() => void> = [];
  afterAll(() => roots.forEach((c) => c()));

  it('a configured certificate file disappearing keeps the last good certificate in service', async () => {
    const { root, cleanup } = tempRoot();
    roots.push(cleanup);
    const ports = await freePorts();
    // A child process, so its log (stderr) shows when the file watcher refused the change.
    const server = spawnCli(['start', '--root', root, ...portArgs(ports)], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' });
    try {
      await server.waitFor('operations ');
      const certFile = join(root, 'keys', 'certificate.pem');
      const expected = new X509Certificate(readFileSync(certFile)).fingerprint256;
      const caFile = join(root, 'ca-copy.pem');
      execFileSync('cp', [join(root, 'keys', 'ca.pem'), caFile]);
      expect(await servedFingerprint(ports.https)).toBe(expected);
      rmSync(certFile);
      rmSync(join(root, 'keys', 'privateKey.pem'));
      // The file watcher notices and refuses the change (a line in the log, not a fixed wait).
      // The server logs to <root>/log/hdb.log (logging.file, Harper's default), not stderr.
      const logFile = join(root, 'log', 'hdb.log');
      for (const deadline = Date.now() + 15_000; !(existsSync(logFile) && readFileSync(logFile, 'utf8').includes('the previous certificates keep serving')); ) {
        if (Date.now() > deadline) throw new Error(`the watcher's refusal was not logged in ${logFile} within 15 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await servedFingerprint(ports.https)).toBe(expected);
      const { stdout: out } = await promisify(execFile)('curl', ['-s', '-S', '--max-time', '10', '--cacert', caFile, '-w', '\n%{http_code}', `https://localhost:${ports.https}/health`], { encoding: 'utf8' });
      expect(out).toBe('{"status":"ok"}\n200');
      server.proc.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
    } finally {
      await kill9(server);
    }
  }, 30_000);

  // The condition is a database directory this process cannot write. Not as root by permission
  // bits (root ignores them) nor by running as another user (who may not even be able to read a
  // clone in a private 0700 directory): as root, a read-only tmpfs is mounted there; otherwise
  // mode 0555 does it. Where neither is possible the test says so and is skipped.
  const asRoot = process.getuid?.() === 0;
  const canMount = asRoot && probeMount();
  it.skipIf(asRoot && !canMount)('a read-only database directory fails start with a clear error, exit 1 and no stack trace (root: needs mount)', async () => {
    const { root, cleanup } = tempRoot();
    roots.push(cleanup);
    const db = join(root, 'database');
    mkdirSync(db);
    if (canMount) execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', db]);
    else chmodSync(db, 0o555);
    try {
      const ports = await freePorts();
      const child = spawnCli(['start', '--root', root, ...portArgs(ports)], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw', HOME: root });
      const exit = await Promise.race([child.exited, sleep(20_000).then(() => undefined)]);
      if (!exit) child.proc.kill('SIGKILL');
      expect(exit).toEqual({ code: 1, signal: null });
      const err = child.stderr();
      expect(err).toMatch(/database/i);
      expect(err).toMatch(/read-only|EROFS|permission denied|EACCES/i);
      expect(err).not.toMatch(/\n\s+at /);
      expect(err.trim().split('\n').length).toBeLessThanOrEqual(3);
    } finally {
      if (canMount) execFileSync('umount', [db]);
      else chmodSync(db, 0o755);
    }
  }, 30_000);
});
