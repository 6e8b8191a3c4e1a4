import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigIssue } from '../src/index.js';
import { tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
afterEach(() => t?.cleanup());

async function issuesOf(p: Promise<unknown>): Promise<ConfigIssue[]> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

/** `tls.sessionTimeout`: seconds a TLS session stays resumable (the ticket lifetime hint). */
describe('tls.sessionTimeout', () => {
  it('is unset by default, read from the file, the environment and the command line', async () => {
    t = tempDir();
    expect((await loadConfig({ root: t.dir, env: {} })).config.tls[0]!.sessionTimeout).toBeUndefined();
    t.write('harperdb-config.yaml', 'tls:\n  sessionTimeout: 600\n');
    expect((await loadConfig({ root: t.dir, env: {} })).config.tls[0]!.sessionTimeout).toBe(600);
    expect((await loadConfig({ root: t.dir, env: { TLS_SESSIONTIMEOUT: '120' } })).config.tls[0]!.sessionTimeout).toBe(120);
    expect((await loadConfig({ root: t.dir, env: {}, overrides: ['--TLS_SESSIONTIMEOUT', '3600'] })).config.tls[0]!.sessionTimeout).toBe(3600);
  });

  it.each([[0], [604_801], [1.5], ['"10m"'], [-5]])('%s is refused with the key, the line and the range', async (value) => {
    t = tempDir();
    t.write('harperdb-config.yaml', `http:\n  port: 9926\ntls:\n  sessionTimeout: ${value}\n`);
    const [issue, ...rest] = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ key: 'tls.sessionTimeout', line: 4, source: 'file', message: expect.stringContaining('1 to 604800') });
  });

  it('belongs to the first entry of a list only (it holds for the whole listener)', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'tls:\n  - certificate: /a.pem\n    privateKey: /a.key\n    sessionTimeout: 60\n  - certificate: /b.pem\n    privateKey: /b.key\n    sessionTimeout: 90\n');
    const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
    expect(issues).toEqual([expect.objectContaining({ key: 'tls[1].sessionTimeout', line: 7, message: expect.stringContaining('first entry') })]);
  });

  it('operationsApi.tls has its own', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'tls:\n  sessionTimeout: 60\noperationsApi:\n  tls:\n    sessionTimeout: 30\n');
    const { config } = await loadConfig({ root: t.dir, env: {} });
    expect(config.tls[0]!.sessionTimeout).toBe(60);
    expect(config.operationsApi.tls[0]!.sessionTimeout).toBe(30);
    t.write('harperdb-config.yaml', 'tls:\n  sessionTimeout: 60\noperationsApi:\n  tls:\n    certificate: /o.pem\n    privateKey: /o.key\n');
    expect((await loadConfig({ root: t.dir, env: {} })).config.operationsApi.tls[0]!.sessionTimeout).toBe(60);
  });
});
