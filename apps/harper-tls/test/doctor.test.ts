import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueCertificate } from '@harper-tls/cert-gen';
import { freePort, run, runToEnd, tempRoot, type Run } from './helpers/run.js';
import { operation } from './helpers/server-harness.js';
import { OpensslPki } from './reliability/openssl-pki.js';

const APP = fileURLToPath(new URL('..', import.meta.url));
const DAY = 86_400_000;

function execAsync(file: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
  });
}

/** Hashes of every file under `dir` except lmdb lock files (readers register there by design). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('-lock')) out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/**
 * One server (started like a user would: `harper-tls start` on a fresh root) with mTLS on both
 * APIs: the application API trusts the generated local CA and checks revocation by CRL; the
 * Operations API trusts only an OpenSSL-made CA. The doctor is run against it in-process, and
 * once as a separate process while the server holds the stores.
 */
describe('harper-tls doctor', () => {
  const { root, cleanup } = tempRoot();
  const pki = new OpensslPki();
  const out = join(root, 'issued');
  let server: Run;
  let ports: { http: number; https: number; ops: number; opsSecure: number };

  const yaml = (mtlsUser: string, verification: string) =>
    [
      'http:',
      `  port: ${ports.http}`,
      `  securePort: ${ports.https}`,
      '  mtls:',
      '    required: false',
      `    user: ${mtlsUser}`,
      `    certificateVerification: ${verification}`,
      'operationsApi:',
      '  network:',
      `    port: ${ports.ops}`,
      `    securePort: ${ports.opsSecure}`,
      '    mtls: true',
      '  tls:',
      `    certificate: ${join(root, 'keys', 'certificate.pem')}`,
      `    privateKey: ${join(root, 'keys', 'privateKey.pem')}`,
      `    certificateAuthority: ${pki.path('other.crt')}`,
      'logging:',
      '  level: warn',
      '',
    ].join('\n');
  const CRL_ONLY = JSON.stringify({ failureMode: 'fail-closed', crl: { cacheTtl: 1000 }, ocsp: false });

  const doctor = async (...args: string[]) => {
    const r = await runToEnd(['doctor', '--root', root, ...args]);
    if (process.env.SHOW_DOCTOR) console.log(`$ doctor ${args.join(' ')}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const issued = (cn: string) => join(out, `${cn}.pem`);

  beforeAll(async () => {
    ports = { http: await freePort(), https: await freePort(), ops: await freePort(), opsSecure: await freePort() };
    pki.ca('other', 'Other Test CA');
    pki.issue('alice-other', 'other', '1001', { cn: 'alice' });
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'harperdb-config.yaml'), yaml('CN', CRL_ONLY));
    writeFileSync(join(root, 'fixed-user.yaml'), yaml('alice', CRL_ONLY));
    writeFileSync(join(root, 'no-revocation.yaml'), yaml('CN', 'false'));
    // A two-level OpenSSL PKI (root -> intermediate -> leaf) trusted by the application API.
    pki.ca('root', 'OpenSSL Root');
    pki.issue('inter', 'root', '2001', { ca: true, cn: 'OpenSSL Intermediate' });
    pki.issue('alice-inter', 'inter', '2002', { cn: 'alice' });
    writeFileSync(pki.path('alice-bundle.pem'), pki.pem('alice-inter') + pki.pem('inter'));
    // A trusted certificate whose subject has no CN, for the identity step.
    pki.write('nocn.ext', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
    pki.run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/O=No Common Name', '-keyout', 'nocn.key', '-out', 'nocn.csr');
    pki.run('x509', '-req', '-in', 'nocn.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-set_serial', '0x2003', '-days', '20', '-extfile', 'nocn.ext', '-out', 'nocn.crt');
    writeFileSync(join(root, 'required.yaml'), yaml('CN', 'false').replace('    required: false', '    required: true'));
    writeFileSync(join(root, 'openssl-root.yaml'), yaml('CN', 'false').replace(`    certificateAuthority: ${pki.path('other.crt')}`, `    certificateAuthority: ${pki.path('other.crt')}\ntls:\n  certificate: ${join(root, 'keys', 'certificate.pem')}\n  privateKey: ${join(root, 'keys', 'privateKey.pem')}\n  certificateAuthority: ${pki.path('root.crt')}`));
    // SNI: `tls` as a list whose entries trust different CAs (the first is the default entry).
    pki.ca('ca-a', 'CA A');
    pki.ca('ca-b', 'CA B');
    pki.issue('alice-a', 'ca-a', '3001', { cn: 'alice' });
    pki.issue('alice-b', 'ca-b', '3002', { cn: 'alice' });
    const entry = (ca: string, host?: string) => [
      `  - certificate: ${join(root, 'keys', 'certificate.pem')}`,
      `    privateKey: ${join(root, 'keys', 'privateKey.pem')}`,
      `    certificateAuthority: ${ca}`,
      ...(host ? [`    host: "${host}"`] : []),
    ];
    writeFileSync(
      join(root, 'sni.yaml'),
      yaml('CN', 'false') + ['tls:', ...entry(join(root, 'keys', 'ca.pem')), ...entry(pki.path('ca-a.crt'), 'a.example'), ...entry(pki.path('ca-b.crt'), 'b.example'), ...entry(pki.path('ca-a.crt'), '*.wild.example'), ''].join('\n'),
    );
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' });
    await server.waitFor(`:${ports.opsSecure}/`);

    for (const [cn, extra] of [['alice', []], ['bob', []], ['carol', []], ['dave', []], ['erin', []], ['someone', []], ['web', ['--server']]] as const) {
      // Progress lines appear when a key takes over 1 s (a loaded machine): not what this checks.
      const r = await runToEnd(['cert', 'issue', '--root', root, '--cn', cn, '--out', out, ...extra], { HARPER_TLS_PROGRESS: '0' });
      expect(r.stderr).toBe('');
    }
    expect((await operation(ports.ops, { operation: 'add_user', username: 'alice', password: 'pw-a', role: 'reader', active: true })).status).toBe(200);
    expect((await operation(ports.ops, { operation: 'add_user', username: 'carol', password: 'pw-c', role: 'reader', active: false })).status).toBe(200);

    // Certificates of the local CA outside their validity window, made with cert-gen and its key.
    const ca = { certificatePem: readFileSync(join(root, 'keys', 'ca.pem'), 'utf8'), privateKeyPem: readFileSync(join(root, 'keys', 'ca-privateKey.pem'), 'utf8'), serialHex: '' };
    const expired = await issueCertificate({ ca, kind: 'client', commonName: 'alice', days: 30, now: () => new Date(Date.now() - 400 * DAY) });
    const future = await issueCertificate({ ca, kind: 'client', commonName: 'alice', days: 30, now: () => new Date(Date.now() + 10 * DAY) });
    writeFileSync(join(out, 'expired.pem'), expired.certificatePem);
    writeFileSync(join(out, 'future.pem'), future.certificatePem);
  });
  afterAll(async () => {
    await server?.stop();
    cleanup();
    pki.cleanup();
  });

  it('accepts a certificate of the local CA whose CN is an active user, and names the user', async () => {
    const r = await doctor('--cert', issued('alice'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ACCEPTED as user "alice" (role reader) on the application API.');
    expect(r.stdout).toMatch(/✔ trust: "CN=alice" → "CN=harper-tls Root CA[^"]*" \(trusted: tls\.certificateAuthority\)/);
    expect(r.stdout).toMatch(/✔ validity: valid now, until \S+ \(36[45] days left\)/);
    expect(r.stdout).toContain('✔ key usage: clientAuth, so client authentication is allowed');
    expect(r.stdout).toMatch(new RegExp(`✔ revocation: ".*alice.*" is good — the local CA's records \\(authoritative for its own certificates\\)`));
    expect(r.stdout).toContain('✔ identity: the subject CN is "alice"');
    expect(r.stdout).toContain('✔ user: "alice" exists and is active, role reader');
  });

  it('shows the CRL download on stderr when it is slow (threshold forced to 0 here); stdout unchanged', async () => {
    // A CA of its own with a CRL distribution point (the local CA's certificates are answered
    // from its records, with nothing to download).
    const crlServer = createServer((_req, res) => res.end(Buffer.from(pki.der('progress.crl'))));
    await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/progress.crl`;
      pki.ca('progress', 'Progress CA');
      pki.issue('alice-progress', 'progress', '4001', { cn: 'alice', cdp: url });
      pki.crl('progress', 'progress.crl');
      const config = join(root, 'progress.yaml');
      writeFileSync(config, yaml('CN', CRL_ONLY) + ['tls:', `  certificate: ${join(root, 'keys', 'certificate.pem')}`, `  privateKey: ${join(root, 'keys', 'privateKey.pem')}`, `  certificateAuthority: ${pki.path('progress.crt')}`, ''].join('\n'));
      const r = await runToEnd(['doctor', '--root', root, '--config', config, '--cert', pki.path('alice-progress.crt')], { HARPER_TLS_PROGRESS_AFTER_MS: '0' });
      expect(r.stdout).toMatch(/✔ revocation: ".*alice.*" is good — CRL http:\/\/127\.0\.0\.1:\d+\/progress\.crl fetched now/);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^Downloading ${url.replace(/\./g, '\\.')}\\.\\.\\.\nDownloading ${url.replace(/\./g, '\\.')}: done in \\d+\\.\\d s \\(\\d+ bytes\\)\n$`));
      expect(r.stdout).not.toContain('Downloading');
    } finally {
      crlServer.close();
    }
  });

  it('rejects a certificate of an issuer the listener does not trust, and lists the trusted CAs', async () => {
    const r = await doctor('--cert', pki.path('alice-other.crt'));
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('✘ trust: not issued by a trusted CA: its issuer "CN=Other Test CA" is not a CA this listener trusts');
    expect(r.stdout).toMatch(/· trusted CAs: "CN=harper-tls Root CA/);
    expect(r.stdout).toContain('REJECTED: the certificate does not chain to a CA this listener trusts.');
    expect(r.stdout).toContain('401 {"error":"Login failed"} unless it carries Basic or JWT credentials');
  });

  it('follows intermediates appended to the --cert file; without them, says to append them', async () => {
    const config = join(root, 'openssl-root.yaml');
    const bundle = await doctor('--config', config, '--cert', pki.path('alice-bundle.pem'));
    expect(bundle.code).toBe(0);
    expect(bundle.stdout).toContain('✔ trust: "CN=alice" → "CN=OpenSSL Intermediate" → "CN=OpenSSL Root" (trusted: tls.certificateAuthority)');
    expect(bundle.stdout).toContain('ACCEPTED as user "alice"');
    const alone = await doctor('--config', config, '--cert', pki.path('alice-inter.crt'));
    expect(alone.code).toBe(2);
    expect(alone.stdout).toContain('its issuer "CN=OpenSSL Intermediate" is not a CA this listener trusts (if it has intermediate CAs, append them to the --cert file after the certificate)');
  });

  it('with mtls.required, says an untrusted certificate fails the TLS handshake', async () => {
    const r = await doctor('--config', join(root, 'required.yaml'), '--cert', pki.path('alice-other.crt'));
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('✔ mTLS is on (http.mtls), required: a handshake without a trusted certificate fails');
    expect(r.stdout).toContain('The client sees the TLS handshake fail (mTLS is required).');
  });

  it('rejects a trusted certificate whose subject has no CN (no user)', async () => {
    const r = await doctor('--config', join(root, 'openssl-root.yaml'), '--cert', pki.path('nocn.crt'));
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('✔ trust: "O=No Common Name" → "CN=OpenSSL Root"');
    expect(r.stdout).toContain('✘ identity: the username is the subject CN, but this subject (O=No Common Name) has none, several, or one that cannot be read');
    expect(r.stdout).toContain('REJECTED: the certificate names no user (no single readable CN).');
  });

  it('rejects an expired certificate and one not valid yet, with the dates', async () => {
    const expired = await doctor('--cert', join(out, 'expired.pem'));
    expect(expired.code).toBe(2);
    expect(expired.stdout).toMatch(/✘ validity: the certificate expired on \S+ \(37\d days ago\)/);
    expect(expired.stdout).toContain('REJECTED: the certificate has expired.');
    const future = await doctor('--cert', join(out, 'future.pem'));
    expect(future.code).toBe(2);
    expect(future.stdout).toMatch(/✘ validity: the certificate is not valid yet: from \S+ \(in 10 days; is a clock wrong\?\)/);
    expect(future.stdout).toContain('REJECTED: the certificate is not valid yet.');
  });

  it('rejects a certificate without clientAuth in its extended key usage', async () => {
    const r = await doctor('--cert', issued('web'));
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('✘ key usage: the extended key usage is serverAuth, without clientAuth');
    expect(r.stdout).toContain('REJECTED: the certificate is not for client authentication (extended key usage).');
  });

  it('rejects a trusted certificate whose CN is no user, or an inactive user', async () => {
    const bob = await doctor('--cert', issued('bob'));
    expect(bob.code).toBe(2);
    expect(bob.stdout).toContain('✔ trust:');
    expect(bob.stdout).toContain('✘ user: "bob" does not exist; create it with the add_user operation');
    expect(bob.stdout).toContain('REJECTED: user "bob" does not exist.');
    const carol = await doctor('--cert', issued('carol'));
    expect(carol.code).toBe(2);
    expect(carol.stdout).toContain('✘ user: "carol" exists but is not active');
    expect(carol.stdout).toContain('REJECTED: user "carol" is not active.');
  });

  it('with a fixed http.mtls.user, accepts any trusted certificate as that user', async () => {
    const r = await doctor('--config', join(root, 'fixed-user.yaml'), '--cert', issued('someone'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✔ identity: every mTLS client is the user "alice" (http.mtls.user), whatever its CN');
    expect(r.stdout).toContain('ACCEPTED as user "alice" (role reader)');
  });

  it('rejects a certificate revoked with `harper-tls cert revoke`, from the local CA\'s records (as the server does)', async () => {
    const revoke = await runToEnd(['cert', 'revoke', '--root', root, issued('dave'), '--reason', 'keyCompromise']);
    expect(revoke.code).toBe(0);
    const r = await doctor('--cert', issued('dave'));
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(new RegExp(`✘ revocation: ".*dave.*" is revoked \\(keyCompromise\\) — the local CA's records \\(authoritative for its own certificates\\)`));
    expect(r.stdout).toMatch(/· local CA: revoked on \S+ \(keyCompromise\)/);
    expect(r.stdout).toContain('REJECTED: the certificate');
    expect(r.stdout).toContain('401 {"error":"Certificate revoked or verification failed"}, even with Basic or JWT credentials');
  });

  describe('--at judges validity and revocation as of another time', () => {
    const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
    const alice = () => new X509Certificate(readFileSync(issued('alice')));

    it('a certificate valid now is expired after its notAfter (exit 2), with the date used in the report', async () => {
      const notAfter = new Date(alice().validTo);
      const at = new Date(notAfter.getTime() + DAY);
      const r = await doctor('--cert', issued('alice'), '--at', at.toISOString());
      expect(r.stderr).toBe('');
      expect(r.code).toBe(2);
      expect(r.stdout).toContain(`At:          ${iso(at)} (--at: validity and revocation are judged as of this time, not now)\n\n`);
      expect(r.stdout).toContain(`✘ validity: the certificate expired on ${iso(notAfter)} (1 day before ${iso(at)})`);
      expect(r.stdout).toContain(`REJECTED (as of ${iso(at)}): the certificate has expired.`);
      // The same certificate now: valid, and no At line.
      const now = await doctor('--cert', issued('alice'));
      expect(now.code).toBe(0);
      expect(now.stdout).not.toContain('At:');
    });

    it('and not valid yet before its notBefore', async () => {
      const notBefore = new Date(alice().validFrom);
      const at = new Date(notBefore.getTime() - 2 * DAY);
      const r = await doctor('--cert', issued('alice'), '--at', iso(at));
      expect(r.code).toBe(2);
      expect(r.stdout).toContain(`At:          ${iso(at)}`);
      expect(r.stdout).toContain(`✘ validity: the certificate is not valid yet on ${iso(at)}: from ${iso(notBefore)} (2 days later)`);
      expect(r.stdout).not.toContain('is a clock wrong');
      expect(r.stdout).toContain(`REJECTED (as of ${iso(at)}): the certificate is not valid yet.`);
    });

    it("next month, inside the validity window: accepted; the local CA's records answer for any date (a revocation is not undone)", async () => {
      const at = new Date(Date.now() + 30 * DAY);
      const r = await doctor('--cert', issued('alice'), '--at', iso(at));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`✔ validity: valid on ${iso(at)}, until \\S+ \\(33[45] days left then\\); its issuers too`));
      expect(r.stdout).toMatch(new RegExp(`✔ revocation: ".*alice.*" is good — the local CA's records \\(authoritative for its own certificates\\)`));
      expect(r.stdout).not.toContain('no CRL at hand');
      expect(r.stdout).toContain(`ACCEPTED (as of ${iso(at)}) as user "alice" (role reader) on the application API.`);
      // A certificate revoked today stays rejected next month, and was good last week.
      expect((await runToEnd(['cert', 'revoke', '--root', root, issued('erin'), '--reason', 'superseded'])).code).toBe(0);
      const erin = await doctor('--cert', issued('erin'), '--at', iso(at));
      expect(erin.code).toBe(2);
      expect(erin.stdout).toMatch(/✘ revocation: ".*erin.*" is revoked \(superseded\) — the local CA's records/);
      expect(erin.stdout).toMatch(new RegExp(`REJECTED \\(as of ${iso(at)}\\): the certificate ".*erin.*" is revoked \\(superseded\\)\\.`));
      const before = new Date(new X509Certificate(readFileSync(issued('erin'))).validFrom);
      const earlier = await doctor('--cert', issued('erin'), '--at', iso(before));
      expect(earlier.stdout).toMatch(/✔ revocation: ".*erin.*" is good — the local CA's records/);
    });

    it('takes a date (midnight UTC), a time without a zone (UTC) or with one, and prints it in UTC', async () => {
      const config = join(root, 'no-revocation.yaml');
      for (const [value, shown] of [
        ['2027-01-15', '2027-01-15T00:00:00Z'],
        ['2027-01-15T10:30', '2027-01-15T10:30:00Z'],
        ['2027-01-15T10:30:00+0200', '2027-01-15T08:30:00Z'],
        ['2027-01-15T10:30:00.250-05:00', '2027-01-15T15:30:00.250Z'],
      ]) {
        const r = await doctor('--config', config, '--cert', issued('alice'), '--at', value!);
        expect(r.code, value).toBe(0);
        expect(r.stdout).toContain(`At:          ${shown} (--at`);
        expect(r.stdout).toContain(`ACCEPTED (as of ${shown}) as user "alice"`);
      }
    });
  });

  describe('--servername picks the tls entry, and so the CAs, as SNI does', () => {
    const sni = (...args: string[]) => doctor('--config', join(root, 'sni.yaml'), ...args);

    it('a certificate of CA A is accepted with the servername of the entry that trusts CA A', async () => {
      const r = await sni('--cert', pki.path('alice-a.crt'), '--servername', 'a.example');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('· tls entry: tls[1] (host a.example) for servername a.example');
      expect(r.stdout).toContain('✔ trust: "CN=alice" → "CN=CA A" (trusted: tls[1].certificateAuthority)');
      expect(r.stdout).toContain('ACCEPTED as user "alice" (role reader) on the application API.');
    });

    it("and rejected with the servername of an entry that trusts only CA B, naming the issuer and that entry's CAs", async () => {
      const r = await sni('--cert', pki.path('alice-a.crt'), '--servername', 'b.example');
      expect(r.code).toBe(2);
      expect(r.stdout).toContain('· tls entry: tls[2] (host b.example) for servername b.example');
      expect(r.stdout).toContain('✘ trust: not issued by a trusted CA: its issuer "CN=CA A" is not a CA this listener trusts');
      expect(r.stdout).toContain('· trusted CAs for servername b.example: "CN=CA B" (tls[2].certificateAuthority)');
      expect(r.stdout).toContain('REJECTED: the certificate does not chain to a CA this listener trusts.');
      // The certificate of CA B is the one b.example accepts.
      const b = await sni('--cert', pki.path('alice-b.crt'), '--servername', 'b.example');
      expect(b.code).toBe(0);
      expect(b.stdout).toContain('✔ trust: "CN=alice" → "CN=CA B" (trusted: tls[2].certificateAuthority)');
    });

    it('a wildcard host covers one label (case and a trailing dot do not matter); a deeper name gets the default entry', async () => {
      const one = await sni('--cert', pki.path('alice-a.crt'), '--servername', 'X.Wild.Example.');
      expect(one.code).toBe(0);
      expect(one.stdout).toContain('· tls entry: tls[3] (host *.wild.example) for servername X.Wild.Example.');
      expect(one.stdout).toContain('(trusted: tls[3].certificateAuthority)');
      const deeper = await sni('--cert', pki.path('alice-a.crt'), '--servername', 'a.b.wild.example');
      expect(deeper.code).toBe(2);
      expect(deeper.stdout).toMatch(/· tls entry: no entry has the host a\.b\.wild\.example, so the default tls\[0\] \(/);
      expect(deeper.stdout).toMatch(/· trusted CAs for servername a\.b\.wild\.example: "CN=harper-tls Root CA[^"]*" \(tls\[0\]\.certificateAuthority\)$/m);
    });

    it('without --servername, the default (first) entry: the local CA, not CA A', async () => {
      const a = await sni('--cert', pki.path('alice-a.crt'));
      expect(a.code).toBe(2);
      expect(a.stdout).toMatch(/· tls entry: tls\[0\] \([^)]*\), the default: no --servername given, as for a client that sends no SNI name/);
      expect(a.stdout).toMatch(/· trusted CAs: "CN=harper-tls Root CA[^"]*" \(tls\[0\]\.certificateAuthority\)$/m);
      const local = await sni('--cert', issued('alice'));
      expect(local.code).toBe(0);
      expect(local.stdout).toMatch(/✔ trust: "CN=alice" → "CN=harper-tls Root CA[^"]*" \(trusted: tls\[0\]\.certificateAuthority\)/);
      expect(local.stdout).toContain('ACCEPTED as user "alice"');
    });
  });

  it('--api operations uses that listener and its own CA', async () => {
    const local = await doctor('--api', 'operations', '--cert', issued('alice'));
    expect(local.code).toBe(2);
    expect(local.stdout).toMatch(/· trusted CAs: "CN=Other Test CA" \(operationsApi\.tls\.certificateAuthority\)/);
    expect(local.stdout).toContain('REJECTED: the certificate does not chain');
    const other = await doctor('--api', 'operations', '--cert', pki.path('alice-other.crt'));
    expect(other.code).toBe(0);
    expect(other.stdout).toContain('✔ mTLS is on (operationsApi.network.mtls)');
    expect(other.stdout).toContain('· revocation: not checked (operationsApi.network.mtls.certificateVerification is off)');
    expect(other.stdout).toContain('ACCEPTED as user "alice" (role reader) on the Operations API.');
  });

  it.each([
    [[], /^harper-tls doctor: --cert FILE is required/],
    [['--cert', '/nonexistent/alice.pem'], /^harper-tls doctor: --cert \/nonexistent\/alice.pem: no such file$/],
    [['--cert', '/tmp'], /^harper-tls doctor: --cert \/tmp: is a directory$/],
    [['--cert', '/etc/hostname'], /^harper-tls doctor: --cert \/etc\/hostname: not a certificate \(neither a PEM "BEGIN CERTIFICATE" block nor DER X\.509\)$/],
    [['--cert', 'KEY'], /no "BEGIN CERTIFICATE" block in this PEM file \(it holds a private key: give the certificate/],
    [['--cert', 'x.pem', '--servname', 'example.com'], /^harper-tls doctor: unknown flag --servname; did you mean --servername\? \(see --help\)$/],
    [['--cert', 'x.pem', '--api', 'ops'], /--api must be "app" or "operations"; got "ops"/],
    [['--cert', 'x.pem', '--at', 'next month'], /^harper-tls doctor: --at must be an ISO 8601 date or time such as 2026-12-31 or 2026-12-31T12:00:00Z; got "next month"$/],
    [['--cert', 'x.pem', '--at', '2026-02-30'], /^harper-tls doctor: --at must be an ISO 8601 date or time .*; got "2026-02-30"$/],
    [['--cert', 'x.pem', '--at', '12/31/2026'], /; got "12\/31\/2026"$/],
    [['--cert', 'x.pem', '--at', '2026-12-31T25:00:00Z'], /; got "2026-12-31T25:00:00Z"$/],
    [['--cert', 'x.pem', '--at='], /^harper-tls doctor: --at must be an ISO 8601 date or time .*; got ""$/],
  ])('bad input %j: exit 1, one line, no stack', async (args, message) => {
    const argv = (args as string[]).map((a) => (a === 'KEY' ? join(out, 'alice-key.pem') : a));
    const r = await doctor(...argv);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
  });

  it('writes nothing: the config, keys and stores are unchanged after several runs', async () => {
    const before = snapshot(root);
    const config = join(root, 'no-revocation.yaml');
    for (const cert of [issued('alice'), issued('bob'), pki.path('alice-other.crt')]) await doctor('--config', config, '--cert', cert);
    expect((await doctor('--config', config, '--cert', issued('alice'))).code).toBe(0);
    expect(snapshot(root)).toEqual(before);
  });

  it('runs as a separate process while the server holds the stores, without hanging', async () => {
    const built = await execAsync('pnpm', ['exec', 'tsup'], APP);
    expect(built.code).toBe(0);
    const t0 = Date.now();
    const r = await execAsync(process.execPath, [join(APP, 'dist', 'cli.js'), 'doctor', '--root', root, '--cert', issued('alice')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ACCEPTED as user "alice"');
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(statSync(join(root, 'database', 'users.mdb')).size).toBeGreaterThan(0);
  });

  it("with the server stopped, answers for the local CA's certificates from its records (last: stops the server)", async () => {
    await server.stop();
    const alice = await doctor('--cert', issued('alice'));
    expect(alice.code).toBe(0);
    expect(alice.stdout).toMatch(/✔ revocation: ".*alice.*" is good — the local CA's records/);
    expect(alice.stdout).toContain('ACCEPTED as user "alice"');
    const dave = await doctor('--cert', issued('dave'));
    expect(dave.code).toBe(2);
    expect(dave.stdout).toContain('is revoked (keyCompromise)');
    expect(dave.stdout).toContain('REJECTED: the certificate');
  });
});

describe('harper-tls doctor on a root that was never started', () => {
  it('says the configuration file is missing and the defaults have no HTTPS listener; creates nothing', async () => {
    const { root, cleanup } = tempRoot();
    try {
      const pki = new OpensslPki();
      pki.ca('x');
      const r = await runToEnd(['doctor', '--root', root, '--cert', pki.path('x.crt')]);
      pki.cleanup();
      expect(r.code).toBe(2);
      expect(r.stdout).toContain('harperdb-config.yaml (no such file: the defaults apply');
      expect(r.stdout).toContain('REJECTED: no HTTPS listener: http.securePort is null');
      expect(readdirSync(root)).toEqual([]);
    } finally {
      cleanup();
    }
  });
});
