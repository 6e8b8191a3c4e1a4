import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigIssue } from '../src/index.js';
import { tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t?.cleanup());

async function load(yaml: string, env: Record<string, string> = {}) {
  t = tempDir();
  t.write('harperdb-config.yaml', yaml);
  return loadConfig({ root: t.dir, env, overrides: [] });
}
async function issues(yaml: string, env: Record<string, string> = {}): Promise<ConfigIssue[]> {
  try {
    await load(yaml, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('SPEC.md section 7 keys', () => {
  it('trustedProxies (IPv4/IPv6 addresses and CIDRs), proxyProtocol and forwardedCertificate with its default header', async () => {
    const { config } = await load(['http:', '  securePort: 9443', "  trustedProxies: ['10.0.0.0/8', '::1', '192.168.1.7', 'fd00::/8']", '  proxyProtocol: true', '  mtls:', '    forwardedCertificate: { format: xfcc }', ''].join('\n'));
    expect(config.http.trustedProxies).toEqual(['10.0.0.0/8', '::1', '192.168.1.7', 'fd00::/8']);
    expect(config.http.proxyProtocol).toBe(true);
    expect(config.http.mtls).toMatchObject({ forwardedCertificate: { format: 'xfcc', header: 'x-forwarded-client-cert' } });
    const other = await load(['http:', "  trustedProxies: '127.0.0.1'", '  mtls:', '    forwardedCertificate: { format: der-base64, header: X-Client-DER }', ''].join('\n'));
    expect(other.config.http.trustedProxies).toEqual(['127.0.0.1']);
    expect(other.config.http.mtls).toMatchObject({ forwardedCertificate: { format: 'der-base64', header: 'x-client-der' } });
    const env = await load('http:\n  port: 9926\n', { HTTP_TRUSTEDPROXIES: '["10.1.0.0/16"]' });
    expect(env.config.http.trustedProxies).toEqual(['10.1.0.0/16']);
  });

  it('bad entries are errors naming the key (with its index), the file and line and the value', async () => {
    const found = await issues(['http:', "  trustedProxies: ['10.0.0.0/33', 'proxy.example.com', '::1/129', 7]", ''].join('\n'));
    expect(found.map((i) => [i.key, i.value, i.line])).toEqual([
      ['http.trustedProxies[0]', '10.0.0.0/33', 2],
      ['http.trustedProxies[1]', 'proxy.example.com', 2],
      ['http.trustedProxies[2]', '::1/129', 2],
      ['http.trustedProxies[3]', 7, 2],
    ]);
    expect(found[1]!.message).toMatch(/host names are not allowed/);
    expect(found[0]!.message).toMatch(/0-32/);
    expect((await issues('http:\n  trustedProxies: {a: 1}\n'))[0]).toMatchObject({ key: 'http.trustedProxies' });
    expect((await issues("http:\n  trustedProxies: ['10.0.0.1']\n  mtls:\n    forwardedCertificate: { format: pem }\n"))[0]).toMatchObject({ key: 'http.mtls.forwardedCertificate.format', value: 'pem', message: expect.stringMatching(/"xfcc", "pem-urlencoded", "der-base64"/) });
    expect((await issues("http:\n  trustedProxies: ['10.0.0.1']\n  mtls:\n    forwardedCertificate: { format: xfcc, header: 'bad header' }\n"))[0]).toMatchObject({ key: 'http.mtls.forwardedCertificate.header' });
    expect((await issues("http:\n  trustedProxies: ['10.0.0.1']\n  mtls:\n    forwardedCertificate: { format: xfcc, header: Authorization }\n"))[0]!.message).toMatch(/another meaning/);
    expect((await issues("http:\n  trustedProxies: ['10.0.0.1']\n  mtls:\n    forwardedCertificate: { format: xfcc, extra: 1 }\n"))[0]).toMatchObject({ key: 'http.mtls.forwardedCertificate.extra' });
    expect((await issues("http:\n  trustedProxies: ['10.0.0.1']\n  proxyProtocol: 'yes'\n"))[0]).toMatchObject({ key: 'http.proxyProtocol' });
  });

  it('settings that could never take effect are errors, not silently inert', async () => {
    expect((await issues('http:\n  proxyProtocol: true\n'))[0]).toMatchObject({ key: 'http.proxyProtocol', message: expect.stringMatching(/needs http.trustedProxies/) });
    expect((await issues('http:\n  mtls:\n    forwardedCertificate: { format: xfcc }\n'))[0]).toMatchObject({ key: 'http.mtls.forwardedCertificate', message: expect.stringMatching(/needs http.trustedProxies/) });
    expect((await issues("operationsApi:\n  network:\n    mtls:\n      forwardedCertificate: { format: xfcc }\n"))[0]).toMatchObject({ key: 'operationsApi.network.mtls.forwardedCertificate' });
  });
});
