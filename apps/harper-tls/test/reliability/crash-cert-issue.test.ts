import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd, tempRoot } from '../helpers/run.js';
import { keysProblems, kill9, pairProblems, randomDelay, runs, spawnCli, startAndStop, tmpLeftovers } from './harness.js';

const RUNS = runs(20);

/** Serial hex without case or leading zeros, the two spellings tools use. */
const normSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, '');

describe(`kill -9 during cert issue (${RUNS} runs)`, () => {
  const { root, cleanup } = tempRoot();
  const out = join(root, 'issued');
  let maxDelayMs = 450;
  beforeAll(async () => {
    mkdirSync(out);
    expect((await startAndStop(root, { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' })).code).toBe(0);
    // Calibrate the kill window to one full run (x1.6; the other test files load the CPU too), see crash-renew.test.ts.
    const t0 = Date.now();
    const full = spawnCli(['cert', 'issue', '--root', root, '--cn', 'calibrate', '--out', out]);
    expect((await full.exited).code).toBe(0);
    maxDelayMs = Math.ceil((Date.now() - t0) * 1.6);
  });
  afterAll(() => cleanup());

  it('never leaves a certificate without its matching key, nor loses one from the CA store', async () => {
    const failures: string[] = [];
    let killedMidway = 0;
    let completed = 0;
    for (let i = 0; i < RUNS; i++) {
      const cn = `user${i}`;
      const delay = randomDelay(maxDelayMs);
      const child = spawnCli(['cert', 'issue', '--root', root, '--cn', cn, '--out', out]);
      await new Promise((r) => setTimeout(r, delay));
      if (child.proc.exitCode === null) killedMidway++;
      await kill9(child);
      const certFile = join(out, `${cn}.pem`);
      const keyFile = join(out, `${cn}-key.pem`);
      if (existsSync(certFile)) {
        completed++;
        if (!existsSync(keyFile)) failures.push(`run ${i} (kill at ${delay} ms): ${cn}.pem written but ${cn}-key.pem missing`);
        else failures.push(...pairProblems(certFile, keyFile).map((p) => `run ${i} (kill at ${delay} ms): ${p}`));
      }
    }

    // Every certificate handed out on disk is known to the CA (so it can be listed and revoked).
    const list = await runToEnd(['cert', 'list', '--root', root, '--json']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const serials = new Set((JSON.parse(list.stdout) as Array<{ serialHex: string }>).map((e) => normSerial(e.serialHex)));
    for (let i = 0; i < RUNS; i++) {
      const certFile = join(out, `user${i}.pem`);
      if (!existsSync(certFile)) continue;
      const serial = normSerial(new X509Certificate(readFileSync(certFile)).serialNumber);
      if (!serials.has(serial)) failures.push(`user${i}.pem (serial ${serial}) is missing from cert list`);
    }

    // The CA still issues after all the kills, and start comes up on consistent keys.
    const again = await runToEnd(['cert', 'issue', '--root', root, '--cn', 'after', '--out', out]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(pairProblems(join(out, 'after.pem'), join(out, 'after-key.pem'))).toEqual([]);
    const started = await startAndStop(root);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(keysProblems(root)).toEqual([]);
    expect(killedMidway).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    console.log(`cert issue: ${RUNS} runs (kill window 0-${maxDelayMs} ms), ${killedMidway} killed mid-run, ${completed} wrote a certificate, ${failures.length} inconsistent, ${tmpLeftovers(out).length} .tmp leftovers`);
  }, 300_000); // bounded by its run count; the limit only guards a hang (a busy 2-core machine runs the kills slowly)
});
