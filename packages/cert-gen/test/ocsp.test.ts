import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createCA, createOcspHttpHandler, createOcspResponder, issueCertificate, type CertStatus, type KeyAndCert } from '../src/index.js';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const t = tempDir();

describe('createOcspResponder answers openssl ocsp over HTTP', () => {
  let ca: KeyAndCert;
  let other: KeyAndCert;
  let good: KeyAndCert;
  let revoked: KeyAndCert;
  let unknown: KeyAndCert;
  let stranger: KeyAndCert;
  let signer: KeyAndCert;
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};

  const status = new Map<string, CertStatus>();
  async function serve(name: string, responder: ReturnType<typeof createOcspResponder>) {
    const s = http.createServer(createOcspHttpHandler(responder));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    ports[name] = (s.address() as { port: number }).port;
  }

  beforeAll(async () => {
    ca = await createCA({ commonName: 'OCSP Test CA' });
    other = await createCA({ commonName: 'Other CA' });
    [good, revoked, unknown] = await Promise.all(['good', 'revoked', 'unknown'].map((cn) => issueCertificate({ ca, kind: 'client', commonName: cn })));
    stranger = await issueCertificate({ ca: other, kind: 'client', commonName: 'stranger' });
    signer = await issueCertificate({ ca, kind: 'ocsp-signer', commonName: 'OCSP signer' });
    status.set(good.serialHex, { status: 'good' });
    status.set(revoked.serialHex, { status: 'revoked', revokedAt: new Date('2026-01-05T00:00:00Z'), reason: 'keyCompromise' });
    const lookup = (s: string): CertStatus => status.get(s) ?? { status: 'unknown' };
    await serve('direct', createOcspResponder({ issuer: ca, lookup }));
    await serve('delegated', createOcspResponder({ issuer: ca, signer, lookup }));
    for (const [n, c] of Object.entries({ ca, good, revoked, unknown, stranger, other })) t.write(`${n}.pem`, c.certificatePem);
  });
  afterAll(() => {
    for (const s of servers) s.close();
    t.cleanup();
  });

  async function ask(server: string, cert: string, issuer = 'ca', extra: string[] = [], digest: string[] = []) {
    const { stdout, stderr } = await run('openssl', ['ocsp', '-issuer', `${t.dir}/${issuer}.pem`, ...digest, '-cert', `${t.dir}/${cert}.pem`, '-url', `http://127.0.0.1:${ports[server]}/`, '-CAfile', `${t.dir}/ca.pem`, '-resp_text', ...extra], { encoding: 'utf8' });
    return stdout + stderr;
  }

  it.each(['direct', 'delegated'])('good, revoked and unknown, signed %s, verified by openssl with a nonce', async (server) => {
    const g = await ask(server, 'good');
    expect(g).toContain('Response verify OK');
    expect(g).toMatch(/good\.pem: good/);
    expect(g).toContain('OCSP Nonce');
    const r = await ask(server, 'revoked');
    expect(r).toMatch(/revoked\.pem: revoked/);
    expect(r).toContain('Reason: keyCompromise');
    expect(r).toContain('Revocation Time: Jan  5 00:00:00 2026 GMT');
    const u = await ask(server, 'unknown');
    expect(u).toMatch(/unknown\.pem: unknown/);
  });

  it('answers with SHA-256 CertIDs and by GET', async () => {
    expect(await ask('direct', 'good', 'ca', [], ['-sha256'])).toMatch(/good\.pem: good/);
    // openssl uses GET with -header? it has no GET switch; send one by hand.
    const req = await run('openssl', ['ocsp', '-issuer', `${t.dir}/ca.pem`, '-cert', `${t.dir}/good.pem`, '-reqout', `${t.dir}/req.der`, '-no_nonce'], { encoding: 'utf8' });
    void req;
    const der = (await import('node:fs')).readFileSync(`${t.dir}/req.der`);
    const res = await fetch(`http://127.0.0.1:${ports.direct}/${encodeURIComponent(der.toString('base64'))}`);
    expect(res.headers.get('content-type')).toBe('application/ocsp-response');
    (await import('node:fs')).writeFileSync(`${t.dir}/res.der`, Buffer.from(await res.arrayBuffer()));
    const { stdout } = await run('openssl', ['ocsp', '-respin', `${t.dir}/res.der`, '-issuer', `${t.dir}/ca.pem`, '-cert', `${t.dir}/good.pem`, '-CAfile', `${t.dir}/ca.pem`], { encoding: 'utf8' });
    expect(stdout).toMatch(/good\.pem: good/);
  });

  it('says unknown for a certificate of another issuer', async () => {
    expect(await ask('direct', 'stranger', 'other', ['-VAfile', `${t.dir}/ca.pem`])).toMatch(/stranger\.pem: unknown/);
  });

  it('answers malformedRequest to garbage, and 413 to a huge body', async () => {
    const bad = await fetch(`http://127.0.0.1:${ports.direct}/`, { method: 'POST', body: 'hello', headers: { 'content-type': 'application/ocsp-request' } });
    expect(Buffer.from(await bad.arrayBuffer()).toString('hex')).toBe('30030a0101');
    const huge = await fetch(`http://127.0.0.1:${ports.direct}/`, { method: 'POST', body: Buffer.alloc(100_000) }).catch((e) => e);
    expect(huge instanceof Error || huge.status === 413).toBe(true);
  });

  it('answers malformedRequest to a GET whose path is not valid percent-encoding (/%ZZ), without throwing', async () => {
    // As the server does: a handler that throws becomes a 500.
    const thrown: unknown[] = [];
    const handler = createOcspHttpHandler(createOcspResponder({ issuer: ca, lookup: () => ({ status: 'good' }) }));
    const s = http.createServer((req, res) =>
      void handler(req, res).catch((err: unknown) => {
        thrown.push(err);
        res.writeHead(500).end();
      }),
    );
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    const base = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
    for (const path of ['/%ZZ', '/%', '/ab%E0%A4%A']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/ocsp-response');
      expect(Buffer.from(await res.arrayBuffer()).toString('hex')).toBe('30030a0101');
    }
    expect(thrown).toEqual([]);
  });

  it('refuses a delegated signer without OCSPSigning', async () => {
    expect(() => createOcspResponder({ issuer: ca, signer: good, lookup: () => ({ status: 'good' }) })).toThrow(/OCSPSigning/);
  });
});
