import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createCA, createLocalCa, createMemoryLocalCaStore, createOcspHttpHandler, type LocalCa } from '../src/index.js';
import { tempDir } from './helpers.js';

/**
 * The local CA's whole client-certificate lifecycle as a relying party sees it, with nothing but
 * the URLs embedded in the certificate: openssl follows the AIA URL to our OCSP responder and
 * the CDP URL to our CRL, over HTTP on 127.0.0.1, before and after a revocation.
 */

const run = promisify(execFile);
const t = tempDir();

async function openssl(args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await run('openssl', args, { encoding: 'utf8' });
    return { ok: true, out: stdout + stderr };
  } catch (err) {
    const e = err as { stdout: string; stderr: string };
    return { ok: false, out: e.stdout + e.stderr };
  }
}

describe('local CA published over HTTP: openssl ocsp -url and verify -crl_download', () => {
  let server: http.Server;
  let local: LocalCa;
  let caFile: string;

  beforeAll(async () => {
    const ca = await createCA({ commonName: 'Lifecycle CA' });
    caFile = t.write('ca.pem', ca.certificatePem);
    let handle: http.RequestListener = (_req, res) => void res.writeHead(503).end();
    server = http.createServer((req, res) => handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    local = createLocalCa({ ca, store: createMemoryLocalCaStore(), crlUrl: `${base}/ca/crl`, ocspUrl: `${base}/ca/ocsp` });
    const ocsp = createOcspHttpHandler(local.ocspResponder);
    handle = (req, res) => {
      if (req.url === '/ca/crl') {
        void local.crl().then((der) => res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(der));
      } else if (req.url?.startsWith('/ca/ocsp')) {
        req.url = req.url.slice('/ca/ocsp'.length) || '/';
        void ocsp(req, res);
      } else res.writeHead(404).end();
    };
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    t.cleanup();
  });

  it('good until revoked, then revoked with its reason, by OCSP and by CRL', async () => {
    const alice = await local.issue({ cn: 'alice' });
    const bob = await local.issue({ cn: 'bob' });
    const aliceFile = t.write('alice.pem', alice.certificatePem);
    const bobFile = t.write('bob.pem', bob.certificatePem);
    const url = (await openssl(['x509', '-noout', '-ocsp_uri', '-in', aliceFile])).out.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ca\/ocsp$/);
    const ocsp = (file: string) => openssl(['ocsp', '-issuer', caFile, '-cert', file, '-url', url, '-CAfile', caFile, '-resp_text']);
    const crlCheck = (file: string) => openssl(['verify', '-crl_check', '-crl_download', '-CAfile', caFile, file]);

    let r = await ocsp(aliceFile);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toMatch(/alice\.pem: good/);
    r = await crlCheck(aliceFile);
    expect(r.out).toMatch(/alice\.pem: OK/);

    await local.revoke(alice.certificatePem, 'keyCompromise');

    r = await ocsp(aliceFile);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toMatch(/alice\.pem: revoked/);
    expect(r.out).toContain('Reason: keyCompromise');
    r = await crlCheck(aliceFile);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/certificate revoked/);
    expect((await ocsp(bobFile)).out).toMatch(/bob\.pem: good/);
    expect((await crlCheck(bobFile)).out).toMatch(/bob\.pem: OK/);
  });
});
