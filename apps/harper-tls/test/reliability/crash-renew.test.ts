import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recoverKeysDir } from '@harper-tls/cert-gen';
import { tempRoot } from '../helpers/run.js';
import { keysProblems, kill9, randomDelay, runs, spawnCli, startAndStop, tmpLeftovers } from './harness.js';

const RUNS = runs(20);

describe(`kill -9 during renew-certs (${RUNS} runs)`, () => {
  const { root, cleanup } = tempRoot();
  // Most of a child's run is module loading; the kill window is calibrated to one full
  // run (x1.6; the other test files load the CPU too) so the random points land before, inside and after the key writes.
  let maxDelayMs = 450;
  beforeAll(async () => {
    const first = await startAndStop(root, { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' });
    expect(first.code).toBe(0);
    const t0 = Date.now();
    const full = spawnCli(['renew-certs', '--root', root]);
    expect((await full.exited).code).toBe(0);
    maxDelayMs = Math.ceil((Date.now() - t0) * 1.6);
  });
  afterAll(() => cleanup());

  it('leaves consistent keys after every kill (once the interrupted replacement is finished), and start still comes up on them', async () => {
    const failures: string[] = [];
    let killedMidway = 0;
    let renewed = 0;
    let serial = new X509Certificate(readFileSync(join(root, 'keys', 'certificate.pem'))).serialNumber;
    for (let i = 0; i < RUNS; i++) {
      const delay = randomDelay(maxDelayMs);
      const child = spawnCli(['renew-certs', '--root', root]);
      await new Promise((r) => setTimeout(r, delay));
      const before = child.proc.exitCode;
      await kill9(child);
      if (before === null) killedMidway++;
      // What every reader of the keys runs first (start, renew-certs, cert issue): it finishes an
      // interrupted replacement. After it, the pairs must fit, with nothing regenerated.
      recoverKeysDir(join(root, 'keys'));
      const problems = keysProblems(root);
      if (problems.length > 0) failures.push(`run ${i} (kill at ${delay} ms): ${problems.join('; ')}`);
      else {
        const now = new X509Certificate(readFileSync(join(root, 'keys', 'certificate.pem'))).serialNumber;
        if (now !== serial) renewed++;
        serial = now;
      }
    }
    const tmp = tmpLeftovers(join(root, 'keys'));
    const started = await startAndStop(root);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(keysProblems(root)).toEqual([]);
    expect(failures).toEqual([]);
    // At least some kills must hit a live process, or the test proved nothing.
    expect(killedMidway).toBeGreaterThan(0);
    // Leftover temp files are tolerated (start ignores them) but reported.
    console.log(`renew-certs: ${RUNS} runs (kill window 0-${maxDelayMs} ms), ${killedMidway} killed mid-run, ${renewed} renewed before the kill, ${failures.length} inconsistent, ${tmp.length} .tmp leftovers`);
  }, 300_000); // bounded by its run count; the limit only guards a hang (a busy 2-core machine runs the kills slowly)
});
