import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type ConfigIssue } from '../src/index.js';
import { tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t?.cleanup());

async function load(yaml: string, env: Record<string, string> = {}) {
  t = tempDir();
  const root = join(t.dir, 'hdb');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'harperdb-config.yaml'), yaml);
  return { root, result: loadConfig({ root, env }) };
}
async function issues(yaml: string): Promise<ConfigIssue[]> {
  const { result } = await load(yaml);
  const err = await result.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).issues;
}

describe('cluster (SPEC.md section 10)', () => {
  it('absent: one node, no cluster settings at all', async () => {
    const { result } = await load('http:\n  port: 9926\n');
    expect((await result).config.cluster).toBeUndefined();
  });

  it('defaults: nodeName from node.hostname, certificate paths under <ROOTPATH>/keys, pollInterval 2000 ms', async () => {
    const { root, result } = await load('node:\n  hostname: web-1\ncluster:\n  url: postgres://harper_tls@db.example.net:5433/harper\n');
    const { config } = await result;
    expect(config.cluster).toEqual({
      nodeName: 'web-1',
      url: 'postgres://harper_tls@db.example.net:5433/harper',
      engine: { user: 'harper_tls', host: 'db.example.net', port: 5433, database: 'harper' },
      tls: { certificate: join(root, 'keys', 'cluster-web-1.pem'), privateKey: join(root, 'keys', 'cluster-web-1-key.pem'), certificateAuthority: join(root, 'keys', 'ca.pem') },
      pollInterval: 2000,
      changeRetention: 86_400_000,
    });
  });

  it('explicit keys, relative paths from ROOTPATH, the default port 5432, env overrides', async () => {
    const { root, result } = await load('cluster:\n  nodeName: node-a\n  url: postgres://harper_tls@[::1]/harper_tls?sslmode=verify-full\n  tls:\n    certificate: certs/a.pem\n  pollInterval: 500\n', { CLUSTER_POLLINTERVAL: '750' });
    const { config } = await result;
    expect(config.cluster!.engine).toEqual({ user: 'harper_tls', host: '::1', port: 5432, database: 'harper_tls' });
    expect(config.cluster!.tls.certificate).toBe(join(root, 'certs', 'a.pem'));
    expect(config.cluster!.pollInterval).toBe(750);
  });

  it('refuses a password in the URL without echoing it', async () => {
    const found = await issues('cluster:\n  url: postgres://harper_tls:hunter2@db/harper\n');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ key: 'cluster.url' });
    expect(found[0]!.message).toMatch(/must not contain a password/);
    expect(JSON.stringify(found)).not.toContain('hunter2');
  });

  it('refuses an sslmode below verify-full and TLS parameters in the URL', async () => {
    for (const mode of ['disable', 'allow', 'prefer', 'require', 'verify-ca']) {
      const found = await issues(`cluster:\n  url: postgres://u@db/d?sslmode=${mode}\n`);
      expect(found[0]!.message).toContain(`sslmode=${mode} would not verify the engine`);
    }
    expect((await issues('cluster:\n  url: postgres://u@db/d?sslrootcert=/x\n'))[0]!.message).toMatch(/parameter "sslrootcert" is not accepted/);
  });

  it('refuses a missing url, another scheme, a URL without user or database, a bad nodeName, a small pollInterval, a misspelled key', async () => {
    expect((await issues('cluster:\n  nodeName: a\n'))[0]!.message).toMatch(/is required when "cluster" is set/);
    expect((await issues('cluster:\n  url: mysql://u@db/d\n'))[0]!.message).toMatch(/postgres:\/\//);
    expect((await issues('cluster:\n  url: postgres://db/d\n'))[0]!.message).toMatch(/with a user, a host and a database/);
    expect((await issues('cluster:\n  url: postgres://%ZZ@db/app\n'))[0]).toMatchObject({ key: 'cluster.url', line: 2, message: expect.stringMatching(/not followed by two hex digits/) });
    expect((await issues('cluster:\n  url: postgres://u@db/a%E0%A4%A\n'))[0]).toMatchObject({ key: 'cluster.url', message: expect.stringMatching(/write a "%" as %25/) });
    expect((await issues('cluster:\n  url: postgres://u@db/d\n  nodeName: "a/b"\n'))[0]).toMatchObject({ key: 'cluster.nodeName' });
    expect((await issues('cluster:\n  url: postgres://u@db/d\n  pollInterval: 10\n'))[0]).toMatchObject({ key: 'cluster.pollInterval' });
    expect((await issues('cluster:\n  url: postgres://u@db/d\n  changeRetention: 10\n'))[0]).toMatchObject({ key: 'cluster.changeRetention' });
    const typo = await issues('cluster:\n  url: postgres://u@db/d\n  pollIntervall: 500\n');
    expect(typo[0]!.key).toBe('cluster.pollIntervall');
    expect(typo[0]!.message).toMatch(/pollInterval/);
  });
});
