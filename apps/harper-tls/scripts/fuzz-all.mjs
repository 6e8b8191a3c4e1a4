#!/usr/bin/env node
// Runs every fuzz target with FUZZ_RUNS inputs each (default 100000): the DER readers
// (packages/revocation/test/fuzz), loadConfig (packages/config/test/fuzz) and the Operations API
// body parser and the PROXY protocol parser (packages/server/test/fuzz). Prints each target's line and the wall time; exits non-zero
// when a target fails. Usage: node apps/harper-tls/scripts/fuzz-all.mjs [revocation|config|server ...]
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const runs = process.env.FUZZ_RUNS ?? '100000';
const pkgs = process.argv.slice(2).length ? process.argv.slice(2) : ['revocation', 'config', 'server'];
let failed = false;
for (const p of pkgs) {
  const t0 = Date.now();
  const r = spawnSync('npx', ['vitest', 'run', 'test/fuzz'], { cwd: resolve(repo, 'packages', p), env: { ...process.env, FUZZ_RUNS: runs }, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  for (const line of out.split('\n')) if (/fuzz \w+:/.test(line)) console.log(line.replace(/\x1b\[[0-9;]*m/g, '').trim());
  console.log(`${p}: exit ${r.status}, ${((Date.now() - t0) / 1000).toFixed(0)} s wall (FUZZ_RUNS=${runs})`);
  if (r.status !== 0) {
    failed = true;
    console.log(out.slice(-4000));
  }
}
process.exit(failed ? 1 : 0);
