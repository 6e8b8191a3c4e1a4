import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runToEnd, tempRoot } from './helpers/run.js';

const CLI = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'cli.js');

describe('command line: help and usage errors', () => {
  it('--help lists every command', async () => {
    const r = await runToEnd(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['start', 'renew-certs', 'cert issue', 'cert revoke', 'cert list', 'crl', 'check-revocation', 'doctor']) expect(r.stdout).toContain(c);
  });

  it.each(['start', 'renew-certs', 'cert issue', 'cert revoke', 'cert list', 'crl', 'check-revocation', 'doctor'])('%s --help prints its usage', async (cmd) => {
    const r = await runToEnd([...cmd.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: harper-tls/);
    expect(r.stdout).toContain('--root');
  });

  it('ignores the "--" that `pnpm start -- ...` passes through', async () => {
    const r = await runToEnd(['cert', 'issue', '--', '--root', '/nonexistent-root']);
    expect(r.stderr).toMatch(/--cn NAME is required/);
    expect(r.stderr).not.toMatch(/unexpected argument/);
  });

  it.each([
    [['fly'], /unknown command "fly"/],
    [['cert'], /"cert" takes one of: issue, revoke, list/],
    [['cert', 'issue', '--root', '/nonexistent-root'], /--cn NAME is required/],
    [['cert', 'issue', '--cn', 'x', '--days', '0'], /--days must be a whole number/],
    [['cert', 'issue', '--cn', 'x', '--bogus'], /unknown flag --bogus \(see --help\)/],
    [['doctor', '--servname', 'x'], /^harper-tls doctor: unknown flag --servname; did you mean --servername\? \(see --help\)$/],
    [['cert', 'issue', '--cn', 'x', '--day', '3'], /unknown flag --day; did you mean --days\?/],
    [['check-revocation', '--no-fetc'], /unknown flag --no-fetc; did you mean --no-fetch\?/],
    [['start', '--rot', '/nonexistent-root'], /^harper-tls start: unknown flag --rot; did you mean --root\?/],
    [['doctr', '--cert', 'x'], /^harper-tls: unknown command "doctr"; did you mean "doctor"\?$/],
    [['cert', 'isue', '--cn', 'x'], /^harper-tls: unknown command "cert isue"; did you mean "cert issue"\?$/],
    [['crt', 'issue'], /unknown command "crt"; did you mean "cert"\?/],
    [['renew'], /unknown command "renew"; did you mean "renew-certs"\?/],
    [['cert', 'issue', '--cn', 'x', '--key-type', 'rsa4096'], /--key-type must be one of .*; got "rsa4096" \(did you mean rsa-4096\?\)/],
    [['doctor', '--cert', '/nonexistent.pem', '--api', 'ops'], /--api must be "app" or "operations"; got "ops"/],
    [['check-revocation'], /--cert FILE is required/],
    [['check-revocation', '--cert', '/nonexistent.pem'], /--cert \/nonexistent.pem: no such file/],
    [['check-revocation', '--cert', '/etc/hostname', '--at', 'yesterday'], /--at must be an ISO 8601 time|no "BEGIN CERTIFICATE"|not/],
    [['cert', 'revoke'], /either a certificate FILE or --serial HEX/],
    [['cert', 'revoke', '/etc/hostname'], /^harper-tls cert revoke: FILE \/etc\/hostname: not a certificate \(neither a PEM "BEGIN CERTIFICATE" block nor DER X\.509\)$/],
    [['cert', 'revoke', '/nonexistent.pem'], /^harper-tls cert revoke: FILE \/nonexistent.pem: no such file$/],
  ])('%j exits 1 with a one-line reason', async (argv, message) => {
    const r = await runToEnd(argv as string[]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('check-revocation names the file at fault: one certificate without its issuer, a file that is not a CRL', async () => {
    const { root, cleanup } = tempRoot();
    try {
      spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=solo', '-keyout', join(root, 'k.pem'), '-out', join(root, 'c.pem'), '-days', '2'], { stdio: 'ignore' });
      const one = await runToEnd(['check-revocation', '--cert', join(root, 'c.pem')]);
      expect(one.code).toBe(1);
      expect(one.stderr.trim()).toBe(`harper-tls check-revocation: --cert ${join(root, 'c.pem')} holds one certificate: give its issuer, up to the trust anchor, with --chain FILE (or append them to the --cert file)`);
      const crl = await runToEnd(['check-revocation', '--cert', join(root, 'c.pem'), '--chain', join(root, 'c.pem'), '--crl', '/etc/hostname']);
      expect(crl.code).toBe(1);
      expect(crl.stderr.trim()).toMatch(/^harper-tls check-revocation: --crl \/etc\/hostname: not a CRL \([^\n]+\)$/);
    } finally {
      cleanup();
    }
  });

  it('cert --help lists the cert subcommands', async () => {
    const r = await runToEnd(['cert', '--help']);
    expect(r.code).toBe(0);
    for (const sub of ['cert issue', 'cert revoke', 'cert list']) expect(r.stdout).toContain(`Usage: harper-tls ${sub}`);
  });

  it('cert commands without a local CA say how to create one', async () => {
    const { root, cleanup } = tempRoot();
    try {
      const r = await runToEnd(['cert', 'list', '--root', root]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('start the server once');
    } finally {
      cleanup();
    }
  });
});

describe('the built binary', () => {
  it('starts, prints its URLs, and stops gracefully on SIGTERM with exit 0', async () => {
    if (!existsSync(CLI)) spawnSync('pnpm', ['exec', 'tsup'], { cwd: join(CLI, '..', '..'), stdio: 'ignore' });
    const { root, cleanup } = tempRoot();
    try {
      const port = await freePort();
      const ops = await freePort();
      const child = spawn(process.execPath, [CLI, '--root', root, '--HTTP_PORT', String(port), '--OPERATIONSAPI_NETWORK_PORT', String(ops)], { env: { ...process.env, HDB_ADMIN_PASSWORD: 'x' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const deadline = Date.now() + 20_000;
      while (!out.includes(`http://localhost:${ops}/`) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain(`http://localhost:${port}/`);
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(out).toContain('Received SIGTERM, stopping');
    } finally {
      cleanup();
    }
  });

  it('exits 1 with one line on a bad option value', () => {
    if (!existsSync(CLI)) return expect.fail('dist/cli.js was not built');
    const r = spawnSync(process.execPath, [CLI, 'cert', 'issue', '--cn'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('harper-tls cert issue: option --cn needs a value (NAME)');
  });
});
