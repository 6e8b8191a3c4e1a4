import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openSharedLogFile } from '../../src/logging/shared-file.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const until = async (cond: () => boolean, what: string, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('shared hdb.log (one process of several): append, reopen after a rename, errors said once', () => {
  it('after the file is renamed and reopen() resolves, lines go to the new file; the old one keeps whole lines', async () => {
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-shared-'));
    const f = openSharedLogFile(dir, 'hdb.log');
    const log = pino(f.stream);
    for (let i = 0; i < 500; i++) log.info({ i }, 'before');
    await until(() => existsSync(join(dir, 'hdb.log')), 'hdb.log opened');
    renameSync(join(dir, 'hdb.log'), join(dir, 'old.log'));
    for (let i = 500; i < 1000; i++) log.info({ i }, 'between');
    await f.reopen();
    for (let i = 1000; i < 1500; i++) log.info({ i }, 'after');
    await f.close();
    const read = (n: string) => readFileSync(join(dir, n), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { i: number; msg: string });
    const old = read('old.log');
    const now = read('hdb.log');
    expect([...old, ...now].map((l) => l.i)).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    // Lines still buffered at the rename may land in either file; none written after reopen() is in the old one.
    expect(old.some((l) => l.msg === 'after')).toBe(false);
    expect(now.filter((l) => l.msg === 'after')).toHaveLength(500);
  });

  it('a disk that refuses writes (ENOSPC, /dev/full) is said once on stderr and nothing throws', async () => {
    if (!existsSync('/dev/full')) throw new Error('/dev/full is needed (Linux) to provoke ENOSPC');
    dir = mkdtempSync(join(tmpdir(), 'harper-tls-shared-'));
    symlinkSync('/dev/full', join(dir, 'hdb.log'));
    const said: string[] = [];
    const f = openSharedLogFile(dir, 'hdb.log', (t) => said.push(t));
    const log = pino(f.stream);
    for (let i = 0; i < 50; i++) {
      log.info({ i }, 'into a full disk');
      await new Promise((r) => setImmediate(r));
    }
    await until(() => said.length > 0, 'the ENOSPC report');
    for (let i = 0; i < 50; i++) {
      log.info({ i }, 'still');
      await new Promise((r) => setImmediate(r));
    }
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/cannot write the log file .*hdb\.log \(ENOSPC\); the server keeps serving/);
    // The disk has room again (a real file in its place): the kept lines are written after a reopen.
    rmSync(join(dir, 'hdb.log'));
    await f.reopen();
    log.info('room again');
    await f.close();
    const text = readFileSync(join(dir, 'hdb.log'), 'utf8');
    expect(text).toContain('room again');
    expect(text.trim().split('\n').every((l) => JSON.parse(l))).toBe(true);
  });
});
