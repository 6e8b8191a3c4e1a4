import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, readPemSource, validateTlsMaterial } from '../src/index.js';
import { makeCerts, tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeAll(() => {
  t = tempDir();
  makeCerts(t.dir);
});
afterAll(() => t.cleanup());

async function configWith(tls: string, extra = '') {
  const file = t.write(`c-${Math.random().toString(36).slice(2)}.yaml`, `tls:\n${tls}\n${extra}`);
  return (await loadConfig({ root: t.dir, configFile: file, env: {} })).config;
}

describe('validateTlsMaterial', () => {
  it('accepts a matching certificate, key and CA', async () => {
    const config = await configWith(`  certificate: ${join(t.dir, 'leaf.pem')}\n  privateKey: ${join(t.dir, 'leaf.key')}\n  certificateAuthority: ${join(t.dir, 'ca.pem')}`);
    expect(validateTlsMaterial(config)).toEqual([]);
  });

  it('reports a missing file with its key, origin line and path', async () => {
    const config = await configWith(`  certificate: ${join(t.dir, 'missing.pem')}\n  privateKey: ${join(t.dir, 'leaf.key')}\n  certificateAuthority: ${join(t.dir, 'ca.pem')}`);
    const issues = validateTlsMaterial(config);
    expect(issues).toEqual([expect.objectContaining({ key: 'tls.certificate', line: 2, source: 'file', value: join(t.dir, 'missing.pem'), message: 'cannot read the file: the file does not exist' })]);
  });

  it('reports a key that does not match its certificate', async () => {
    const config = await configWith(`  certificate: ${join(t.dir, 'leaf.pem')}\n  privateKey: ${join(t.dir, 'other.key')}\n  certificateAuthority: ${join(t.dir, 'ca.pem')}`);
    expect(validateTlsMaterial(config)).toEqual([expect.objectContaining({ key: 'tls.privateKey', message: expect.stringContaining('does not match the certificate') })]);
  });

  it('reports garbage and a CA file without a CA', async () => {
    const garbage = t.write('garbage.pem', 'hello');
    const config = await configWith(`  certificate: ${garbage}\n  privateKey: ${garbage}\n  certificateAuthority: ${join(t.dir, 'leaf.pem')}`);
    const byKey = Object.fromEntries(validateTlsMaterial(config).map((i) => [i.key, i.message]));
    expect(byKey['tls.certificate']).toMatch(/no PEM certificate/);
    expect(byKey['tls.privateKey']).toMatch(/not a readable unencrypted PEM private key/);
    expect(byKey['tls.certificateAuthority']).toMatch(/none of its certificates is a CA/);
  });

  it('checks inline PEM the same way', async () => {
    const cert = readFileSync(join(t.dir, 'leaf.pem'), 'utf8');
    const key = readFileSync(join(t.dir, 'other.key'), 'utf8');
    const { config } = await loadConfig({ root: t.dir, configFile: t.write('inline.yaml', 'http:\n  port: 1\n'), env: { TLS_CERTIFICATE: cert, TLS_PRIVATEKEY: key, TLS_CERTIFICATEAUTHORITY: join(t.dir, 'ca.pem') } });
    expect(validateTlsMaterial(config)).toEqual([expect.objectContaining({ key: 'tls.privateKey', source: 'env', name: 'TLS_PRIVATEKEY', value: '(inline PEM)' })]);
  });

  it('checks applications[].upstreamTls: a mismatched client key, a non-PEM key and a CA file that is no PEM, each named', async () => {
    const garbage = t.write('garbage-up.pem', 'hello');
    const leaf = join(t.dir, 'leaf.pem');
    const config = await configWith(
      `  certificate: ${leaf}\n  privateKey: ${join(t.dir, 'leaf.key')}\n  certificateAuthority: ${join(t.dir, 'ca.pem')}`,
      [
        'applications:',
        '  - path: /a',
        '    upstream: https://127.0.0.1:1',
        `    upstreamTls: {certificate: ${leaf}, privateKey: ${join(t.dir, 'other.key')}, certificateAuthority: ${garbage}}`,
        '  - path: /b',
        '    upstream: https://127.0.0.1:2',
        `    upstreamTls: {certificate: ${leaf}, privateKey: ${garbage}, certificateAuthority: ${leaf}}`,
        '  - path: /c',
        '    upstream: https://127.0.0.1:3',
        `    upstreamTls: {certificate: ${leaf}, privateKey: ${join(t.dir, 'leaf.key')}, certificateAuthority: ${join(t.dir, 'ca.pem')}}`,
        '',
      ].join('\n'),
    );
    expect(validateTlsMaterial(config)).toEqual([
      expect.objectContaining({ key: 'applications[0].upstreamTls.privateKey', source: 'file', line: 8, value: join(t.dir, 'other.key'), message: expect.stringContaining('does not match the certificate') }),
      expect.objectContaining({ key: 'applications[0].upstreamTls.certificateAuthority', value: garbage, message: expect.stringContaining('no PEM certificate') }),
      expect.objectContaining({ key: 'applications[1].upstreamTls.privateKey', line: 11, message: expect.stringContaining('not a readable unencrypted PEM private key') }),
    ]);
  });

  it('checks operationsApi.tls when it has its own', async () => {
    const config = await configWith(
      `  certificate: ${join(t.dir, 'leaf.pem')}\n  privateKey: ${join(t.dir, 'leaf.key')}\n  certificateAuthority: ${join(t.dir, 'ca.pem')}`,
      `operationsApi:\n  tls:\n    certificateAuthority: ${join(t.dir, 'nope.pem')}\n`,
    );
    expect(validateTlsMaterial(config).map((i) => i.key)).toEqual(['operationsApi.tls.certificateAuthority']);
  });
});

describe('readPemSource', () => {
  it('reads files and inline text, and throws a ConfigError naming an unreadable file', () => {
    expect(readPemSource({ kind: 'inline', value: 'X', isDefault: false, origin: 'x' })).toBe('X');
    const p = t.write('unreadable.pem', 'x');
    chmodSync(p, 0o000);
    const src = { kind: 'file' as const, value: join(t.dir, 'nope.pem'), isDefault: false, origin: 'harperdb-config.yaml:3' };
    expect(() => readPemSource(src, 'tls.certificate')).toThrow(ConfigError);
    expect(() => readPemSource(src, 'tls.certificate')).toThrow(/tls.certificate = .*nope.pem.*does not exist/);
  });
});
