import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createCA, createLocalCa, createMemoryLocalCaStore, derToPem, issueCertificate, type KeyAndCert, type KeyType } from '../src/index.js';
import { tempDir } from './helpers.js';

/**
 * Real TLS handshakes: curl (OpenSSL) presents certificates we issued to a Node https server
 * that trusts our CA and requires a client certificate. The server runs in this process, so
 * curl is spawned asynchronously (a synchronous spawn would block the event loop that serves it).
 */

const execFileP = promisify(execFile);
const t = tempDir();

async function curl(port: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('curl', ['-sS', '--max-time', '10', '--noproxy', '*', '--cacert', t.dir + '/root.pem', ...args, `https://127.0.0.1:${port}/whoami`], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface Served {
  port: number;
  /** Requests that reached the handler. */
  handled: number;
  options: https.ServerOptions;
  close(): Promise<void>;
}

/**
 * An https server with mandatory client certificates (`requestCert`, `rejectUnauthorized`),
 * answering the peer's CN. With `rejectUnauthorized: false` it answers why Node refused the
 * certificate instead: with TLS 1.3 a strict server closes after the handshake, so curl sees a
 * reset rather than the reason.
 */
async function serve(options: https.ServerOptions): Promise<Served> {
  const served = { port: 0, handled: 0, options, close: async () => {} };
  const server = https.createServer({ requestCert: true, rejectUnauthorized: true, ...options }, (req, res) => {
    served.handled++;
    const socket = req.socket as TLSSocket;
    const body = socket.authorized ? { cn: socket.getPeerCertificate().subject?.CN, authorized: true } : { authorized: false, error: String(socket.authorizationError) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  served.port = (server.address() as { port: number }).port;
  served.close = () => new Promise<void>((r) => server.close(() => r()));
  return served;
}

const CLIENT_KEY_TYPES: KeyType[] = ['ec-p256', 'ec-p384', 'ed25519', 'rsa-2048'];

describe('curl with an issued client certificate against a Node https server that trusts our CA', () => {
  let root: KeyAndCert;
  let intermediate: KeyAndCert;
  let served: Served;
  const closers: Served[] = [];

  function writePair(name: string, cert: KeyAndCert, chain = ''): string[] {
    return ['--cert', t.write(`${name}.pem`, cert.certificatePem + chain), '--key', t.write(`${name}-key.pem`, cert.privateKeyPem)];
  }

  beforeAll(async () => {
    root = await createCA({ commonName: 'TLS Test Root' });
    t.write('root.pem', root.certificatePem);
    intermediate = await createCA({ commonName: 'TLS Test Intermediate', issuer: root, pathLength: 0 });
    const server = await issueCertificate({ ca: root, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'] });
    served = await serve({ key: server.privateKeyPem, cert: server.certificatePem, ca: [root.certificatePem] });
    closers.push(served);
  });
  afterAll(async () => {
    await Promise.all(closers.map((s) => s.close()));
    t.cleanup();
  });

  it.each(CLIENT_KEY_TYPES)('completes a handshake with a %s client certificate; the server sees CN = username', async (keyType) => {
    const client = await issueCertificate({ ca: root, kind: 'client', commonName: `user-${keyType}`, keyType, sans: ['email:u@example.com'] });
    const r = await curl(served.port, writePair(`client-${keyType}`, client));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cn: `user-${keyType}`, authorized: true });
  });

  it('accepts a client certificate issued by an intermediate when curl sends the chain', async () => {
    const client = await issueCertificate({ ca: intermediate, kind: 'client', commonName: 'bob' });
    const r = await curl(served.port, writePair('bob', client, intermediate.certificatePem));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cn: 'bob', authorized: true });
  });

  it('refuses curl without a client certificate', async () => {
    const before = served.handled;
    const r = await curl(served.port, []);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/certificate required|handshake failure|alert|reset|empty reply/i);
    expect(served.handled).toBe(before);
  });

  it('refuses a client certificate from another CA, and a server certificate used as a client one', async () => {
    const other = await createCA({ commonName: 'Stranger CA' });
    const stranger = await issueCertificate({ ca: other, kind: 'client', commonName: 'mallory' });
    const serverAsClient = await issueCertificate({ ca: root, kind: 'server', commonName: 'svc.example.com' });
    const before = served.handled;
    for (const [name, cert] of [['mallory', stranger], ['svc', serverAsClient]] as const) {
      const r = await curl(served.port, writePair(name, cert));
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
    }
    expect(served.handled).toBe(before);
    // why: ask a server that reports instead of refusing
    const lenient = await serve({ ...served.options, rejectUnauthorized: false });
    closers.push(lenient);
    expect(JSON.parse((await curl(lenient.port, writePair('mallory', stranger))).stdout)).toEqual({ authorized: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(JSON.parse((await curl(lenient.port, writePair('svc', serverAsClient))).stdout)).toEqual({ authorized: false, error: 'INVALID_PURPOSE' });
  });

  it('refuses a client certificate revoked in the local CA once the server loads its CRL', async () => {
    const local = createLocalCa({ ca: root, store: createMemoryLocalCaStore() });
    const alice = await local.issue({ cn: 'alice' });
    const carol = await local.issue({ cn: 'carol' });
    await local.revoke(carol.serialHex, 'keyCompromise');
    const server = await local.issue({ cn: 'localhost', server: true, sans: ['IP:127.0.0.1'] });
    const options = { key: server.privateKeyPem, cert: server.certificatePem, ca: [root.certificatePem], crl: derToPem(await local.crl(), 'X509 CRL') };
    const strict = await serve(options);
    const lenient = await serve({ ...options, rejectUnauthorized: false });
    closers.push(strict, lenient);
    const ok = await curl(strict.port, writePair('alice', alice));
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ cn: 'alice', authorized: true });
    const refused = await curl(strict.port, writePair('carol', carol));
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    expect(strict.handled).toBe(1);
    expect(JSON.parse((await curl(lenient.port, writePair('carol', carol))).stdout)).toEqual({ authorized: false, error: 'CERT_REVOKED' });
  });
});
