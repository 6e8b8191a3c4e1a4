import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyClientChain } from '../src/chain.js';

/**
 * verifyClientChain is the only chain check of a forwarded certificate and of one under
 * `required: false`, so it must judge a chain as the handshake (OpenSSL) does: each chain here is
 * made with the openssl CLI, checked by `openssl verify -purpose sslclient`, and must get the
 * same outcome from verifyClientChain.
 */
const dir = mkdtempSync(join(tmpdir(), 'mtls-chain-'));
const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
const CA_EXT = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'];
const LEAF_EXT = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', 'authorityKeyIdentifier=keyid'];

function root(name: string, ext: string[] = CA_EXT.slice(0, 3)): void {
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/O=Test/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', ...ext.flatMap((e) => ['-addext', e]));
}

function issue(name: string, issuer: string, subj: string, ext: string[]): void {
  writeFileSync(join(dir, `${name}.ext`), ext.join('\n') + '\n');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subj, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  run('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', `0x${(++serial).toString(16)}`, '-days', '20', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}
let serial = 0x1000;

const x509 = (name: string) => new X509Certificate(readFileSync(join(dir, `${name}.crt`)));

/** `openssl verify` of `leaf` through `intermediates` (leaf side first) to `anchor`: true when it verifies. */
function opensslVerifies(leaf: string, intermediates: string[], anchor: string): boolean {
  const args = ['verify', '-purpose', 'sslclient', '-CAfile', `${anchor}.crt`];
  if (intermediates.length) {
    writeFileSync(join(dir, 'untrusted.pem'), intermediates.map((n) => readFileSync(join(dir, `${n}.crt`), 'utf8')).join(''));
    args.push('-untrusted', 'untrusted.pem');
  }
  return spawnSync('openssl', [...args, `${leaf}.crt`], { cwd: dir }).status === 0;
}

function judge(leaf: string, intermediates: string[], anchor: string) {
  const r = verifyClientChain([x509(leaf), ...intermediates.map(x509)], [x509(anchor)], new Date());
  return { openssl: opensslVerifies(leaf, intermediates, anchor), ours: r.ok, reason: r.ok ? undefined : r.reason };
}

beforeAll(() => {
  root('root');
  // pathlen:0 intermediate issuing a sub-CA that issues a leaf.
  issue('len0', 'root', '/O=Test/CN=len0', ['basicConstraints=critical,CA:TRUE,pathlen:0', ...CA_EXT.slice(1)]);
  issue('sub', 'len0', '/O=Test/CN=sub', CA_EXT);
  issue('undersub', 'sub', '/O=Test/CN=alice', LEAF_EXT);
  issue('underlen0', 'len0', '/O=Test/CN=alice', LEAF_EXT);
  // An intermediate with keyUsage but no keyCertSign.
  issue('nosign', 'root', '/O=Test/CN=nosign', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,cRLSign,digitalSignature', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid']);
  issue('undernosign', 'nosign', '/O=Test/CN=alice', LEAF_EXT);
  // Name constraints: permitted DNS .good.test and directoryName O=Test; excluded DNS bad.good.test.
  const nc = 'nameConstraints=critical,permitted;DNS:.good.test,permitted;dirName:dir_sect,excluded;DNS:bad.good.test';
  // (the dirName section follows in the same extension file)
  issue('nc', 'root', '/O=Test/CN=nc', ['basicConstraints=critical,CA:TRUE,pathlen:1', ...CA_EXT.slice(1), nc, '[dir_sect]', 'O=Test']);
  issue('ncsub', 'nc', '/O=Test/CN=ncsub', ['basicConstraints=critical,CA:TRUE,pathlen:0', ...CA_EXT.slice(1)]);
  issue('inside', 'ncsub', '/O=Test/CN=alice', [...LEAF_EXT, 'subjectAltName=DNS:alice.good.test,email:alice@example.org']);
  issue('outside', 'ncsub', '/O=Test/CN=alice', [...LEAF_EXT, 'subjectAltName=DNS:alice.evil.test']);
  issue('excluded', 'ncsub', '/O=Test/CN=alice', [...LEAF_EXT, 'subjectAltName=DNS:bad.good.test']);
  issue('cnoutside', 'ncsub', '/O=Test/CN=alice.evil.test', LEAF_EXT); // no SAN: the host-like CN is checked
  issue('otherdn', 'ncsub', '/O=Other/CN=alice', LEAF_EXT);
  // A critical extension nobody knows, on the leaf.
  issue('unknowncrit', 'root', '/O=Test/CN=alice', [...LEAF_EXT, '1.2.3.4.5=critical,DER:05:00']);
  // Name constraints of a form not evaluated (otherName): refused, fail closed.
  issue('ncother', 'root', '/O=Test/CN=ncother', [...CA_EXT, 'nameConstraints=critical,permitted;otherName:1.2.3.4;UTF8:x']);
  issue('underncother', 'ncother', '/O=Test/CN=alice', LEAF_EXT);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verifyClientChain judges a chain as a handshake does', () => {
  it('a pathlen:0 intermediate issuing a sub-CA that issues a leaf: refused; its own leaf: accepted', () => {
    expect(judge('undersub', ['sub', 'len0'], 'root')).toMatchObject({ openssl: false, ours: false, reason: expect.stringMatching(/path length constraint exceeded/) });
    expect(judge('underlen0', ['len0'], 'root')).toEqual({ openssl: true, ours: true, reason: undefined });
  });

  it('an issuer whose keyUsage lacks keyCertSign: refused', () => {
    expect(judge('undernosign', ['nosign'], 'root')).toMatchObject({ openssl: false, ours: false });
  });

  it('name constraints: a leaf inside the permitted subtrees is accepted; outside, excluded, a host-like CN outside, another DN: refused', () => {
    expect(judge('inside', ['ncsub', 'nc'], 'root')).toEqual({ openssl: true, ours: true, reason: undefined });
    expect(judge('outside', ['ncsub', 'nc'], 'root')).toMatchObject({ openssl: false, ours: false, reason: expect.stringMatching(/dns alice\.evil\.test is not in a permitted subtree/) });
    expect(judge('excluded', ['ncsub', 'nc'], 'root')).toMatchObject({ openssl: false, ours: false, reason: expect.stringMatching(/excluded subtree/) });
    expect(judge('cnoutside', ['ncsub', 'nc'], 'root')).toMatchObject({ openssl: false, ours: false, reason: expect.stringMatching(/dns alice\.evil\.test/) });
    expect(judge('otherdn', ['ncsub', 'nc'], 'root')).toMatchObject({ openssl: false, ours: false, reason: expect.stringMatching(/directoryName/) });
  });

  it('an unknown critical extension: refused', () => {
    expect(judge('unknowncrit', [], 'root')).toMatchObject({ openssl: false, ours: false, reason: expect.stringMatching(/unhandled critical extensions 1\.2\.3\.4\.5/) });
  });

  it('name constraints that cannot be evaluated (an otherName subtree): refused, fail closed', () => {
    expect(judge('underncother', ['ncother'], 'root')).toMatchObject({ ours: false, reason: expect.stringMatching(/cannot be evaluated/) });
  });
});
