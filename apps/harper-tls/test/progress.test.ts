import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSelfSignedCertificates } from '@harper-tls/cert-gen';
import { createProgress, formatBytes, progressFetch, progressFor, type FetchLike } from '../src/progress.js';
import type { CommandContext } from '../src/context.js';
import { freePort, run, runToEnd, tempRoot } from './helpers/run.js';
import { OpensslPki } from './reliability/openssl-pki.js';

describe('progress: nothing for quick work, start and "done in" lines for slow work', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const capture = (opts: { tty?: boolean; afterMs?: number; enabled?: boolean } = {}) => {
    const out: string[] = [];
    const progress = createProgress({ write: (t) => out.push(t), tty: opts.tty ?? false, afterMs: opts.afterMs, enabled: opts.enabled });
    return { out, progress };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('prints nothing for a task that ends within the threshold (1 s)', async () => {
    vi.useFakeTimers();
    const { out, progress } = capture();
    const task = progress.run('Generating a 4096-bit RSA key', () => sleep(900));
    await vi.advanceTimersByTimeAsync(900);
    await task;
    expect(out).toEqual([]);
  });

  it('prints a start line after 1 s and "done in X s" at the end (not a TTY: plain lines)', async () => {
    vi.useFakeTimers();
    const { out, progress } = capture();
    const task = progress.run('Generating a 4096-bit RSA key', () => sleep(2500));
    await vi.advanceTimersByTimeAsync(1000);
    expect(out).toEqual(['Generating a 4096-bit RSA key...\n']);
    await vi.advanceTimersByTimeAsync(1500);
    await task;
    expect(out).toEqual(['Generating a 4096-bit RSA key...\n', 'Generating a 4096-bit RSA key: done in 2.5 s\n']);
  });

  it('says "failed after" when the work throws, and passes the error on', async () => {
    vi.useFakeTimers();
    const { out, progress } = capture();
    const task = progress.run('Downloading http://x/ca.crl', async () => {
      await sleep(1500);
      throw new Error('boom');
    });
    const settled = task.catch((e: Error) => e.message);
    await vi.advanceTimersByTimeAsync(1500);
    expect(await settled).toBe('boom');
    expect(out.at(-1)).toBe('Downloading http://x/ca.crl: failed after 1.5 s\n');
  });

  it('on a TTY, rewrites one line in place with the live detail, at most every 100 ms', async () => {
    vi.useFakeTimers();
    const { out, progress } = capture({ tty: true });
    const task = progress.start('Downloading http://x/ca.crl');
    await vi.advanceTimersByTimeAsync(1000);
    expect(out).toEqual(['\r\x1b[KDownloading http://x/ca.crl... ']);
    await vi.advanceTimersByTimeAsync(100);
    task.update('1.0 MB of 3.0 MB');
    task.update('1.5 MB of 3.0 MB'); // within 100 ms of the last draw: not drawn
    await vi.advanceTimersByTimeAsync(100);
    task.update('2.0 MB of 3.0 MB');
    task.done('3.0 MB');
    expect(out).toEqual([
      '\r\x1b[KDownloading http://x/ca.crl... ',
      '\r\x1b[KDownloading http://x/ca.crl... 1.0 MB of 3.0 MB',
      '\r\x1b[KDownloading http://x/ca.crl... 2.0 MB of 3.0 MB',
      '\r\x1b[KDownloading http://x/ca.crl: done in 1.2 s (3.0 MB)\n',
    ]);
  });

  it('on a TTY, a second task shown at the same time ends the in-place line and both go plain', async () => {
    vi.useFakeTimers();
    const { out, progress } = capture({ tty: true, afterMs: 0 });
    const a = progress.start('A');
    const b = progress.start('B');
    a.update('1 KB');
    b.done();
    a.done();
    expect(out.join('')).toBe('\r\x1b[KA... \nB...\nB: done in 0.0 s\nA: done in 0.0 s (1 KB)\n');
  });

  it('HARPER_TLS_PROGRESS=0 silences it; HARPER_TLS_PROGRESS_AFTER_MS=0 shows every task', async () => {
    const ctx = (env: Record<string, string>) => {
      const out: string[] = [];
      return { out, ctx: { env, stderr: (t: string) => out.push(t) } as unknown as CommandContext };
    };
    const off = ctx({ HARPER_TLS_PROGRESS: '0', HARPER_TLS_PROGRESS_AFTER_MS: '0' });
    await progressFor(off.ctx).run('X', async () => {});
    expect(off.out).toEqual([]);
    const all = ctx({ HARPER_TLS_PROGRESS_AFTER_MS: '0' });
    await progressFor(all.ctx).run('X', async () => {});
    expect(all.out).toEqual(['X...\n', 'X: done in 0.0 s\n']);
  });

  it('formats sizes', () => {
    expect([formatBytes(512), formatBytes(2048), formatBytes(5 * 1024 * 1024)]).toEqual(['512 bytes', '2.0 KB', '5.0 MB']);
  });
});

describe('progressFetch: counts the bytes of each download as the checker reads them', () => {
  const body = (chunks: number[], delayMs = 0) =>
    new ReadableStream<Uint8Array>({
      async start(c) {
        for (const n of chunks) {
          if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
          c.enqueue(new Uint8Array(n).fill(7));
        }
        c.close();
      },
    });

  it('passes the body through unchanged and reports "done in" with the size', async () => {
    const out: string[] = [];
    const inner: FetchLike = async () => new Response(body([1000, 1000, 1000]), { headers: { 'content-length': '3000' } });
    const f = progressFetch(createProgress({ write: (t) => out.push(t), tty: false, afterMs: 0 }), inner);
    const res = await f('http://example.test/ca.crl', {});
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length).toBe(3000);
    expect(bytes.every((b) => b === 7)).toBe(true);
    expect(res.headers.get('content-length')).toBe('3000');
    expect(out).toEqual(['Downloading http://example.test/ca.crl...\n', expect.stringMatching(/^Downloading http:\/\/example\.test\/ca\.crl: done in \d+\.\d s \(2\.9 KB\)\n$/)]);
  });

  it('on a TTY shows "received of total" while the body streams', async () => {
    const out: string[] = [];
    const inner: FetchLike = async () => new Response(body([4096, 4096], 120), { headers: { 'content-length': '8192' } });
    const f = progressFetch(createProgress({ write: (t) => out.push(t), tty: true, afterMs: 0 }), inner);
    await (await f('http://example.test/big.crl', {})).arrayBuffer();
    expect(out.join('')).toContain('Downloading http://example.test/big.crl... 4.0 KB of 8.0 KB');
  });

  it('an OCSP POST is labelled as such; a failed request ends the task as failed', async () => {
    const out: string[] = [];
    const inner: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    const f = progressFetch(createProgress({ write: (t) => out.push(t), tty: false, afterMs: 0 }), inner);
    await expect(f('http://ocsp.test/', { method: 'POST' })).rejects.toThrow('fetch failed');
    expect(out).toEqual(['Asking the OCSP responder http://ocsp.test/...\n', expect.stringMatching(/^Asking the OCSP responder http:\/\/ocsp\.test\/: failed after/)]);
  });
});

describe('progress in the commands', () => {
  const { root, cleanup } = tempRoot();
  const pki = new OpensslPki();
  let server: Server;
  let base: string;
  let slowMs = 0;

  beforeAll(async () => {
    await ensureSelfSignedCertificates({ keysDir: join(root, 'keys') });
    writeFileSync(join(root, 'harperdb-config.yaml'), 'logging:\n  level: warn\n');
    // A CRL server that can dribble its body out slowly, as a large CRL on a slow link would.
    server = createServer(async (req, res) => {
      const der = readFileSync(pki.path('root.crl'));
      res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': der.length });
      const parts = slowMs ? 4 : 1;
      const size = Math.ceil(der.length / parts);
      for (let i = 0; i < parts; i++) {
        if (slowMs) await new Promise((r) => setTimeout(r, slowMs / parts));
        res.write(der.subarray(i * size, (i + 1) * size));
      }
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    pki.ca('root', 'Progress Root');
    pki.issue('leaf', 'root', '3001', { cdp: `${base}/root.crl` });
    pki.crl('root');
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    cleanup();
    pki.cleanup();
  });

  it('cert issue --key-type rsa-2048 shows key generation (threshold forced to 0)', async () => {
    const r = await runToEnd(['cert', 'issue', '--root', root, '--cn', 'rsa-user', '--key-type', 'rsa-2048', '--out', join(root, 'out')], { HARPER_TLS_PROGRESS_AFTER_MS: '0' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^Generating a 2048-bit RSA key for CN=rsa-user\.\.\.\nGenerating a 2048-bit RSA key for CN=rsa-user: done in \d+\.\d s\n$/);
    const cert = new X509Certificate(readFileSync(join(root, 'out', 'rsa-user.pem')));
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('cert issue with a quick EC key prints nothing to stderr (default threshold)', async () => {
    const r = await runToEnd(['cert', 'issue', '--root', root, '--cn', 'ec-user', '--out', join(root, 'out')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('renew-certs --key-type shows key generation', async () => {
    const r = await runToEnd(['renew-certs', '--root', root, '--key-type', 'rsa-2048'], { HARPER_TLS_PROGRESS_AFTER_MS: '0' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^Generating 2048-bit RSA keys for the renewed certificates\.\.\.\nGenerating 2048-bit RSA keys for the renewed certificates: done in \d+\.\d s\n$/);
    expect(new X509Certificate(readFileSync(join(root, 'keys', 'certificate.pem'))).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('check-revocation shows a CRL download that takes more than a second, with its size, on stderr only', async () => {
    slowMs = 1400;
    try {
      const r = await runToEnd(['check-revocation', '--cert', pki.path('leaf.crt'), '--chain', pki.path('root.crt')]);
      expect(r.code).toBe(0);
      const size = readFileSync(pki.path('root.crl')).length;
      expect(r.stderr).toBe(`Downloading ${base}/root.crl...\n${r.stderr.split('\n')[1]}\n`);
      expect(r.stderr.split('\n')[1]).toMatch(new RegExp(`^Downloading ${base.replace(/\./g, '\\.')}/root\\.crl: done in 1\\.\\d s \\(${size} bytes\\)$`));
      expect(r.stdout).toContain('Result: good');
      expect(r.stdout).not.toContain('Downloading');
    } finally {
      slowMs = 0;
    }
  });

  it('check-revocation with a quick download prints nothing to stderr', async () => {
    const r = await runToEnd(['check-revocation', '--cert', pki.path('leaf.crt'), '--chain', pki.path('root.crt')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('first start with --key-type rsa-2048 shows the key generation, then serves with those keys', async () => {
    const fresh = tempRoot();
    try {
      const server = run(['start', '--root', fresh.root, '--key-type', 'rsa-2048', '--HTTP_PORT', String(await freePort()), '--OPERATIONSAPI_NETWORK_PORT', String(await freePort()), '--LOGGING_LEVEL', 'warn'], { HARPER_TLS_PROGRESS_AFTER_MS: '0', HDB_ADMIN_PASSWORD: 'x' });
      await server.waitFor('operations ');
      expect(await server.stop()).toBe(0);
      expect(server.stderr()).toMatch(/^Generating 2048-bit RSA keys for the self-signed CA and server certificate\.\.\.\nGenerating 2048-bit RSA keys for the self-signed CA and server certificate: done in \d+\.\d s\n/);
      expect(new X509Certificate(readFileSync(join(fresh.root, 'keys', 'ca.pem'))).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    } finally {
      fresh.cleanup();
    }
  });
});
