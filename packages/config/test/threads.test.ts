import { afterEach, describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ConfigError, defaultThreadCount, loadConfig, type ConfigIssue } from '../src/index.js';
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

describe('threads.count (SPEC.md section 8)', () => {
  it('defaults to one less than the CPUs, at least 1 (as Harper)', async () => {
    expect(defaultThreadCount(1)).toBe(1);
    expect(defaultThreadCount(2)).toBe(1);
    expect(defaultThreadCount(8)).toBe(7);
    t = tempDir();
    const { config } = await loadConfig({ root: t.dir, env: {} });
    expect(config.threads.count).toBe(Math.max(1, availableParallelism() - 1));
  });

  it('reads the file, THREADS_COUNT, --THREADS_COUNT and Harper\'s `threads: N` form', async () => {
    t = tempDir();
    t.write('harperdb-config.yaml', 'threads:\n  count: 3\n');
    expect((await loadConfig({ root: t.dir, env: {} })).config.threads.count).toBe(3);
    expect((await loadConfig({ root: t.dir, env: { THREADS_COUNT: '5' } })).config.threads.count).toBe(5);
    expect((await loadConfig({ root: t.dir, env: {}, overrides: ['--THREADS_COUNT', '2'] })).config.threads.count).toBe(2);
    t.write('harperdb-config.yaml', 'threads:\n  count: "4"\n');
    expect((await loadConfig({ root: t.dir, env: {} })).config.threads.count).toBe(4);
    t.write('harperdb-config.yaml', 'threads: 6\n');
    expect((await loadConfig({ root: t.dir, env: {} })).config.threads.count).toBe(6);
    t.write('harperdb-config.yaml', 'threads:\n  count: null\n  debug: false\n');
    const { config } = await loadConfig({ root: t.dir, env: {} });
    expect(config.threads.count).toBe(defaultThreadCount());
    expect(config.ignoredHarperKeys).toEqual(['threads.debug']);
  });

  it('refuses counts outside 1-256 and non-integers, naming the key, line and value', async () => {
    for (const bad of ['0', '257', '1.5', '"two"', '-1']) {
      t = tempDir();
      t.write('harperdb-config.yaml', `http:\n  port: 9926\nthreads:\n  count: ${bad}\n`);
      const issues = await issuesOf(loadConfig({ root: t.dir, env: {} }));
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ key: 'threads.count', line: 4 });
      expect(issues[0]!.message).toContain('from 1 to 256');
      t.cleanup();
    }
  });
});
