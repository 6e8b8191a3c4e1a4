import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { LoggingConfig } from '@harper-tls/config';
import { openSharedLogFile, type SharedLogFile } from '../../src/logging/shared-file.js';
import { startLogRotation, type LogRotation } from '../../src/workers/log-rotation.js';
import { nextIntervalBoundary } from '../../src/workers/log-interval.js';

let dir: string;
let rotation: LogRotation | undefined;
let writers: SharedLogFile[] = [];
afterEach(async () => {
  await rotation?.close();
  await Promise.all(writers.map((w) => w.close()));
  rotation = undefined;
  writers = [];
  rmSync(dir, { recursive: true, force: true });
});

function logging(over: Partial<LoggingConfig['rotation']> = {}): LoggingConfig {
  return {
    level: 'info',
    file: true,
    root: join(dir, 'log'),
    stdStreams: false,
    rotation: { enabled: true, compress: false, intervalMs: null, interval: null, maxSizeBytes: 8192, path: join(dir, 'rotated'), ...over },
    auditAuthEvents: { logFailed: false, logSuccessful: false },
  };
}

const until = async (cond: () => boolean, what: string, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Three writers of one hdb.log (as three processes would be), the rotator reopening all of them. */
function setup(cfg: LoggingConfig, stderr?: (t: string) => void) {
  writers = [0, 1, 2].map(() => openSharedLogFile(cfg.root, 'hdb.log'));
  const loggers = writers.map((w, i) => pino({ base: { worker: i } }, w.stream));
  rotation = startLogRotation({ logging: cfg, reopenAll: async () => void (await Promise.all(writers.map((w) => w.reopen()))), checkMs: 20, ...(stderr ? { stderr } : {}) });
  return loggers;
}

function lines(cfg: LoggingConfig): Array<{ file: string; bytes: number; lines: Array<{ worker: number; i: number }> }> {
  const rotated = existsSync(cfg.rotation.path) ? readdirSync(cfg.rotation.path).sort().map((f) => join(cfg.rotation.path, f)) : [];
  return [...rotated, join(cfg.root, 'hdb.log')].map((f) => {
    const raw = readFileSync(f);
    const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    if (text) expect(text.endsWith('\n')).toBe(true);
    return { file: f, bytes: text.length, lines: text.split('\n').slice(0, -1).map((l) => JSON.parse(l)) };
  });
}

async function drive(loggers: pino.Logger[], n: number, from = 0) {
  for (let i = from; i < from + n; i++) {
    loggers[i % loggers.length]!.info({ i, pad: 'x'.repeat(100) }, 'line');
    if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
  }
}

describe('startLogRotation (the primary rotates hdb.log for every process)', () => {
  it('off when rotation is disabled or has neither size nor interval', () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-rot-'));
    expect(startLogRotation({ logging: logging({ enabled: false }), reopenAll: async () => {} })).toBeUndefined();
    expect(startLogRotation({ logging: logging({ maxSizeBytes: null }), reopenAll: async () => {} })).toBeUndefined();
  });

  for (const compress of [false, true]) {
    it(`by size${compress ? ', gzipped' : ''}: three writers, every line once and whole, each rotated file at least maxSize`, async () => {
      dir = mkdtempSync(join(tmpdir(), 'harper-tls-rot-'));
      const cfg = logging({ compress });
      const loggers = setup(cfg);
      // Logged at a pace (not all at once), until five rotations happened: lines keep coming during each.
      let n = 0;
      const deadline = Date.now() + 20_000;
      while ((rotation?.rotations ?? 0) < 5) {
        if (Date.now() > deadline) throw new Error(`five rotations did not happen in 20 s (${rotation?.rotations})`);
        await drive(loggers, 20, n);
        n += 20;
      }
      await rotation!.close();
      await Promise.all(writers.map((w) => w.close()));
      const files = lines(cfg);
      const names = files.slice(0, -1).map((f) => f.file.slice(cfg.rotation.path.length + 1));
      for (const n of names) expect(n).toMatch(compress ? /^hdb-\d{8}-\d{6}-\d+\.log\.gz$/ : /^hdb-\d{8}-\d{6}-\d+\.log$/);
      for (const f of files.slice(0, -1)) expect(f.bytes).toBeGreaterThanOrEqual(8192);
      expect(files.length - 1).toBe(rotation!.rotations);
      const all = files.flatMap((f) => f.lines).map((l) => l.i).sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
    });
  }

  it('by interval (the boundaries rotating-file-stream uses), an empty file is not rotated', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-rot-'));
    const cfg = logging({ maxSizeBytes: null, interval: '1s', intervalMs: 1000 });
    const loggers = setup(cfg);
    loggers[0]!.info('tick');
    await until(() => (rotation?.rotations ?? 0) >= 1, 'a rotation at the next second');
    const first = readdirSync(cfg.rotation.path);
    expect(first).toHaveLength(1);
    expect(readFileSync(join(cfg.rotation.path, first[0]!), 'utf8')).toContain('tick');
    // Nothing logged since: a rotation of the empty hdb.log leaves it alone.
    expect(await rotation!.rotate()).toBeUndefined();
    expect(rotation!.rotations).toBe(1);
    expect(readdirSync(cfg.rotation.path)).toEqual(first);
  });

  it('started before any process has opened hdb.log: it creates the file, a rotation of it is not a removal, no reopen, nothing said', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-rot-'));
    const cfg = logging();
    const said: string[] = [];
    let reopens = 0;
    writers = [];
    expect(existsSync(join(cfg.root, 'hdb.log'))).toBe(false);
    rotation = startLogRotation({ logging: cfg, reopenAll: async () => void (reopens++, await Promise.all(writers.map((w) => w.reopen()))), checkMs: 20, stderr: (t) => said.push(t) });
    // Created empty and private, as the writers open it (append).
    expect(statSync(join(cfg.root, 'hdb.log')).size).toBe(0);
    expect(statSync(join(cfg.root, 'hdb.log')).mode & 0o777).toBe(0o600);
    expect(await rotation!.rotate()).toBeUndefined();
    expect(reopens).toBe(0);
    expect(said).toEqual([]);
    writers = [0, 1, 2].map(() => openSharedLogFile(cfg.root, 'hdb.log'));
    const loggers = writers.map((w, i) => pino({ base: { worker: i } }, w.stream));
    let n = 0;
    const deadline = Date.now() + 20_000;
    while (rotation!.rotations < 1) {
      if (Date.now() > deadline) throw new Error('no rotation in 20 s');
      await drive(loggers, 20, n);
      n += 20;
    }
    expect(said).toEqual([]);
    expect(reopens).toBe(rotation!.rotations);
  });

  it('hdb.log removed right after start (before any size check saw it): said once as a removal, every process reopens', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-rot-'));
    const cfg = logging();
    const said: string[] = [];
    let reopens = 0;
    writers = [];
    rotation = startLogRotation({ logging: cfg, reopenAll: async () => void reopens++, checkMs: 20, stderr: (t) => said.push(t) });
    rmSync(join(cfg.root, 'hdb.log'));
    await until(() => said.length > 0, 'the removal on stderr');
    expect(said[0]).toMatch(/the log file .*hdb\.log was removed; every process reopens it/);
    expect(reopens).toBeGreaterThanOrEqual(1);
  });

  it('a rotation folder that cannot be made: said once, no throw, lines kept in hdb.log, recovers when it can', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-rot-'));
    const cfg = logging();
    writeFileSync(cfg.rotation.path, 'a file where the folder should be');
    const said: string[] = [];
    const loggers = setup(cfg, (t) => said.push(t));
    await drive(loggers, 300);
    await until(() => said.length > 0, 'the failure on stderr');
    await drive(loggers, 300);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/log rotation failed \((EEXIST|ENOTDIR)/);
    expect(rotation!.rotations).toBe(0);
    rmSync(cfg.rotation.path);
    await until(() => (rotation?.rotations ?? 0) >= 1, 'a rotation after the 5 s pause', 15_000);
  });
});

describe('nextIntervalBoundary (as rotating-file-stream)', () => {
  it('minutes from the epoch, hours and days in local time, months on the first', () => {
    const t = new Date(2026, 4, 17, 13, 27, 41, 500);
    expect(nextIntervalBoundary('30m', t)).toBe(Math.floor(t.getTime() / 1_800_000) * 1_800_000 + 1_800_000);
    expect(nextIntervalBoundary('1s', t)).toBe(new Date(2026, 4, 17, 13, 27, 42).getTime());
    expect(nextIntervalBoundary('6h', t)).toBe(new Date(2026, 4, 17, 18).getTime());
    expect(nextIntervalBoundary('1d', t)).toBe(new Date(2026, 4, 18).getTime());
    expect(nextIntervalBoundary('1M', t)).toBe(new Date(2026, 5, 1).getTime());
    expect(() => nextIntervalBoundary('1w', t)).toThrow(/not a rotation interval/);
  });
});
