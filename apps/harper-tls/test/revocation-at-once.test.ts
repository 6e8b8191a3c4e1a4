import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { exec, freePort, run, runToEnd, tempRoot, type Run } from './helpers/run.js';
import { spawnCli } from './reliability/harness.js';

/**
 * The local CA's records are authoritative (SPEC.md section 4): a revocation by `harper-tls cert
 * revoke` (another process) or by the `revoke_certificate` operation is refused by the running
 * server at once: on a new handshake, on the next request of an open keep-alive connection, and
 * on a resumed session; the served CRL and OCSP answers change with it. The CRL cache TTL is the
 * default day, so nothing here can pass by waiting for a cached CRL to expire.
 */
describe('a local-CA revocation takes effect at once', () => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let ports: { http: number; https: number; ops: number };
  const out = join(root, 'issued');
  const ca = () => join(root, 'keys', 'ca.pem');
  const pem = (name: string) => ({ cert: readFileSync(join(out, `${name}.pem`)), key: readFileSync(join(out, `${name}-key.pem`)) });

  async function op(body: object): Promise<{ status: number; body: any }> {
    const res = await fetch(`http://127.0.0.1:${ports.ops}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('admin:pw-for-tests').toString('base64')}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  beforeAll(async () => {
    ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
    writeFileSync(
      join(root, 'harperdb-config.yaml'),
      ['http:', `  port: ${ports.http}`, `  securePort: ${ports.https}`, '  mtls:', '    required: false', '    certificateVerification: true', 'operationsApi:', '  network:', `    port: ${ports.ops}`, 'logging:', '  level: warn', ''].join('\n'),
    );
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'pw-for-tests' });
    await server.waitFor('operations ');
    for (const cn of ['dave', 'erin', 'frank']) {
      const r = await runToEnd(['cert', 'issue', '--root', root, '--cn', cn, '--out', out]);
      expect(r.code).toBe(0);
      expect((await op({ operation: 'add_user', username: cn, password: `${cn}-pw`, role: 'reader', active: true })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('cert revoke in another process: the next handshake, the open keep-alive connection and a resumed session are refused', async () => {
    const dave = new Conn(ports.https, pem('dave'), ca());
    await dave.open();
    expect(await dave.whoami()).toEqual({ status: 200, body: { username: 'dave', role: 'reader', authenticatedBy: 'mtls' } });
    const session = await dave.session();
    // A good answer is in every cache now: the CRL cache, the per-connection outcome.
    expect(await dave.whoami()).toMatchObject({ status: 200 });

    const revoke = spawnCli(['cert', 'revoke', '--root', root, join(out, 'dave.pem'), '--reason', 'keyCompromise']);
    const exit = await revoke.exited;
    expect(revoke.stderr()).toBe('');
    expect(exit.code).toBe(0);
    const revokedAt = Date.now();

    // A new handshake reads the records: refused on its first request, without waiting.
    const fresh = new Conn(ports.https, pem('dave'), ca());
    await fresh.open();
    expect(await fresh.whoami()).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    fresh.close();

    // A resumed session is a new connection: checked again.
    const resumed = new Conn(ports.https, pem('dave'), ca(), session);
    await resumed.open();
    expect(resumed.socket!.isSessionReused()).toBe(true);
    expect(await resumed.whoami()).toMatchObject({ status: 401 });
    resumed.close();

    // The open connection learns of the other process's revocation by the server's poll of the
    // records (every 250 ms): its requests are refused from then on. Bounded wait, then the time.
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 10_000) status = (await dave.whoami()).status;
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expect(await dave.whoami()).toMatchObject({ status: 401 });
    dave.close();
  });

  it('revoke_certificate: the next request of an open connection is refused before the operation has even answered', async () => {
    const erin = new Conn(ports.https, pem('erin'), ca());
    await erin.open();
    expect(await erin.whoami()).toMatchObject({ status: 200, body: { username: 'erin' } });
    const serial = new X509Certificate(pem('erin').cert).serialNumber;
    const r = await op({ operation: 'revoke_certificate', serial, reason: 'superseded' });
    expect(r).toMatchObject({ status: 200, body: { serial: serial.toLowerCase().replace(/^0+/, ''), cn: 'erin', reason: 'superseded' } });
    // No wait at all: the operation bumped the trust generation before it answered.
    expect(await erin.whoami()).toEqual({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    erin.close();
    // Basic credentials alongside a revoked certificate do not help either.
    const again = new Conn(ports.https, pem('erin'), ca());
    await again.open();
    expect(await again.whoami(`Basic ${Buffer.from('erin:erin-pw').toString('base64')}`)).toMatchObject({ status: 401, body: { error: 'Certificate revoked or verification failed' } });
    again.close();
  });

  it('revoke_certificate validates its input and needs super_user', async () => {
    expect(await op({ operation: 'revoke_certificate' })).toMatchObject({ status: 400, body: { error: expect.stringContaining('"serial"') } });
    expect(await op({ operation: 'revoke_certificate', serial: 'zz' })).toMatchObject({ status: 400, body: { error: expect.stringContaining('hexadecimal') } });
    expect(await op({ operation: 'revoke_certificate', serial: '7d2d42bf7f7737e4a268415f6724fd2b' })).toMatchObject({ status: 400, body: { error: expect.stringContaining('no certificate with serial') } });
    expect(await op({ operation: 'revoke_certificate', serial: 'ab', reason: 'bored' })).toMatchObject({ status: 400 });
    const res = await fetch(`http://127.0.0.1:${ports.ops}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('frank:frank-pw').toString('base64')}` },
      body: JSON.stringify({ operation: 'revoke_certificate', serial: 'ab' }),
    });
    expect(res.status).toBe(403);
  });

  it('the served CRL and OCSP answers changed at the same moment', async () => {
    const frank = new X509Certificate(pem('frank').cert);
    const ocsp = (serialPem: string) =>
      exec('openssl', ['ocsp', '-issuer', ca(), '-cert', serialPem, '-url', `http://127.0.0.1:${ports.http}/ca/ocsp`, '-CAfile', ca(), '-no_nonce']);
    expect(await ocsp(join(out, 'frank.pem'))).toMatch(/frank\.pem: good/);
    expect((await op({ operation: 'revoke_certificate', certificate: pem('frank').cert.toString() })).status).toBe(200);
    expect(await ocsp(join(out, 'frank.pem'))).toMatch(/frank\.pem: revoked/);
    const crlFile = join(root, 'served.crl');
    writeFileSync(crlFile, new Uint8Array(await (await fetch(`http://127.0.0.1:${ports.http}/ca/crl`)).arrayBuffer()));
    const text = (await exec('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', ca(), '-noout', '-text'])).toUpperCase();
    for (const name of ['dave', 'erin', 'frank']) expect(text).toContain(new X509Certificate(pem(name).cert).serialNumber.toUpperCase());
    expect(frank.subject).toContain('CN=frank');
  });
});

/** One TLS connection with a client certificate, sending HTTP/1.1 keep-alive requests one at a time. */
class Conn {
  socket?: tls.TLSSocket;
  #buffer = '';
  #waiting?: () => void;
  #session?: Buffer;
  constructor(
    readonly port: number,
    readonly client: { cert: Buffer; key: Buffer },
    readonly caFile: string,
    readonly resume?: Buffer,
  ) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: this.port, servername: 'localhost', ca: readFileSync(this.caFile), ...this.client, session: this.resume, ALPNProtocols: ['http/1.1'] }, () => resolve());
      socket.on('session', (s: Buffer) => (this.#session = s));
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        this.#buffer += d;
        this.#waiting?.();
      });
      socket.once('error', reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error('connection timed out')));
      this.socket = socket;
    });
  }

  /** The TLS session to resume later (TLS 1.3 sends its tickets after the handshake). */
  session(): Promise<Buffer> {
    return new Promise((resolve) => {
      if (this.#session) return resolve(this.#session);
      this.socket!.once('session', resolve);
    });
  }

  async whoami(authorization?: string): Promise<{ status: number; body: any }> {
    this.#buffer = '';
    this.socket!.write(`GET /whoami HTTP/1.1\r\nhost: localhost\r\n${authorization ? `authorization: ${authorization}\r\n` : ''}\r\n`);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const head = this.#buffer.indexOf('\r\n\r\n');
      if (head >= 0) {
        const length = Number(/content-length: (\d+)/i.exec(this.#buffer.slice(0, head))?.[1] ?? 0);
        if (this.#buffer.length >= head + 4 + length) {
          const status = Number(this.#buffer.slice(9, 12));
          return { status, body: JSON.parse(this.#buffer.slice(head + 4, head + 4 + length)) };
        }
      }
      if (Date.now() > deadline || this.socket!.destroyed) throw new Error(`no complete response: ${JSON.stringify(this.#buffer)}`);
      await new Promise<void>((r) => {
        this.#waiting = r;
        const t = setTimeout(r, 1000);
        t.unref();
      });
    }
  }

  close(): void {
    this.socket?.end();
  }
}
