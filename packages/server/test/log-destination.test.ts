import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { LoggingConfig } from '@harper-tls/config';
import { openLog } from '../src/logger.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function logging(over: Partial<LoggingConfig['rotation']> & { root?: string } = {}): LoggingConfig {
  const root = over.root ?? join(dir, 'log');
  return {
    level: 'info',
    file: true,
    root,
    stdStreams: false,
    rotation: { enabled: true, compress: true, intervalMs: null, interval: null, maxSizeBytes: null, path: join(dir, 'rotated'), ...over },
    auditAuthEvents: { logFailed: false, logSuccessful: false },
  };
}

/** Waits (bounded) until `dir` holds a file matching `re`. */
async function fileAppears(folder: string, re: RegExp, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = existsSync(folder) ? readdirSync(folder).find((f) => re.test(f)) : undefined;
    if (hit) return join(folder, hit);
    if (Date.now() > deadline) throw new Error(`no file matching ${re} in ${folder} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('log destination: hdb.log, rotation with rotating-file-stream, gzip', () => {
  it('writes JSON lines to <root>/hdb.log (0600) when rotation needs nothing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-log-'));
    const log = openLog({ ...logging({ enabled: false }) });
    log.logger.warn({ user: 'x' }, 'hello file');
    await log.close();
    const text = readFileSync(join(dir, 'log', 'hdb.log'), 'utf8');
    expect(JSON.parse(text.trim().split('\n')[0]!)).toMatchObject({ msg: 'hello file', user: 'x', level: 40 });
  });

  it('hdb.log that cannot be opened (a folder) is said once on stderr, not an unhandled error that ends the process', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-log-'));
    mkdirSync(join(dir, 'log', 'hdb.log'), { recursive: true });
    const said: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (said.push(String(chunk)), true));
    try {
      const log = openLog({ ...logging({ enabled: false }) });
      log.logger.warn('into a folder');
      const deadline = Date.now() + 5000;
      while (!said.some((t) => t.includes('cannot write the log file')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await log.close();
    } finally {
      write.mockRestore();
    }
    expect(said.filter((t) => t.includes('cannot write the log file'))).toEqual([expect.stringContaining(`${join(dir, 'log', 'hdb.log')} (EISDIR)`)]);
  });

  it('rotates by size into rotation.path, gzipped, and keeps writing hdb.log', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-log-'));
    const log = openLog(logging({ maxSizeBytes: 2048 }));
    for (let i = 0; i < 100; i++) log.logger.info({ i, pad: 'p'.repeat(50) }, 'line');
    const rotated = await fileAppears(join(dir, 'rotated'), /^hdb-\d{8}-\d{6}-\d+\.log\.gz$/);
    log.logger.info('after rotation');
    await log.close();
    const lines = gunzipSync(readFileSync(rotated)).toString('utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'line' });
    expect(readFileSync(join(dir, 'log', 'hdb.log'), 'utf8')).toContain('after rotation');
  });

  it('rotates by interval (rotating-file-stream timers), uncompressed when compress is false', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-log-'));
    // Harper's smallest unit is a minute; the wiring is the same for "1s", which keeps the test short.
    const log = openLog(logging({ interval: '1s', intervalMs: 1000, compress: false, maxSizeBytes: null }));
    log.logger.info('before the tick');
    const rotated = await fileAppears(join(dir, 'rotated'), /^hdb-.*\.log$/, 4000);
    await log.close();
    expect(readFileSync(rotated, 'utf8')).toContain('before the tick');
  });
});
