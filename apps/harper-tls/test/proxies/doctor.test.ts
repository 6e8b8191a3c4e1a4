import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd } from '../helpers/run.js';
import { makeClients, startHarperTls, type Clients } from './harness.js';

describe('doctor --forwarded: the same answer as for the certificate itself', () => {
  let harper: Awaited<ReturnType<typeof startHarperTls>>;
  let clients: Clients;
  beforeAll(async () => {
    harper = await startHarperTls((p) => [`port: ${p.http}`, `securePort: ${p.https}`, "trustedProxies: ['127.0.0.1']", 'mtls:', '  certificateVerification: true', '  forwardedCertificate: { format: pem-urlencoded }']);
    clients = await makeClients(harper.root);
  });
  afterAll(async () => {
    await harper?.stop();
  });

  const doctor = (...args: string[]) => runToEnd(['doctor', '--root', harper.root, ...args]);
  const verdict = (out: string) => out.slice(out.indexOf('\nACCEPTED') >= 0 ? out.indexOf('\nACCEPTED') : out.indexOf('\nREJECTED')).trim();

  it('good, revoked, expired and foreign-CA certificates: the verdict of --forwarded equals that of --cert', async () => {
    for (const name of ['alice', 'bob', 'expired', 'foreign'] as const) {
      const direct = await doctor('--cert', clients.cert(name).cert);
      const value = encodeURIComponent(clients.cert(name).pem);
      const fwd = await doctor(`--forwarded=${value}`); // a value starting with "--" needs the = form
      expect([name, fwd.code, verdict(fwd.stdout)]).toEqual([name, direct.code, verdict(direct.stdout)]);
      expect(fwd.stdout).toContain('forwarded certificate: header x-ssl-client-cert (pem-urlencoded)');
    }
    expect(verdict((await doctor(`--forwarded=${encodeURIComponent(clients.cert('alice').pem)}`)).stdout)).toMatch(/^ACCEPTED as user "alice"/);
    expect((await doctor(`--forwarded=${encodeURIComponent(clients.cert('bob').pem)}`)).stdout).toMatch(/revoked/);
  });

  it('reads @FILE and a pasted "Header: value" line; a value the server cannot decode is its 400, a wrong format a listener failure', async () => {
    const file = join(harper.root, 'header.txt');
    writeFileSync(file, `X-SSL-Client-Cert: ${encodeURIComponent(clients.cert('alice').pem)}\n`);
    expect(verdict((await doctor('--forwarded', `@${file}`)).stdout)).toMatch(/^ACCEPTED as user "alice"/);
    const bad = await doctor('--forwarded', '%E0%A4%A');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(/REJECTED: the server answers 400/);
    const der = clients.cert('alice').pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
    const other = await doctor('--forwarded', der, '--format', 'der-base64');
    expect(other.code).toBe(2);
    expect(other.stdout).toMatch(/reads the pem-urlencoded format/);
    expect((await doctor('--forwarded', 'x', '--cert', clients.cert('alice').cert)).code).toBe(1);
  });
});
