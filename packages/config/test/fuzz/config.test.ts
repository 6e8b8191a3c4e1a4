import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG_YAML, HarperTlsError, loadConfig } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { FUZZ_RUNS, FUZZ_SEED, mutate, rng } from './mutate.js';

/**
 * Mutation fuzzing of loadConfig over a real temp file, seeded from harperdb-config.yaml variants.
 * Byte mutations (bit flips, insert/delete, truncation, splices) plus YAML-specific ones (deep flow
 * and block nesting, alias bombs, tabs, huge numbers, duplicate keys). Default 2k inputs (about 8 s);
 * FUZZ_RUNS=100000 for the full run.
 */
const RUNS = FUZZ_RUNS(2_000);
const t = tempDir();
afterAll(() => t.cleanup());

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk9HVVMAAAAAAAAAAAAAAAAAAAAwCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----';
const SEEDS = [
  DEFAULT_CONFIG_YAML,
  `http:\n  port: 9926\n  securePort: 9927\n  mtls:\n    required: true\n    user: CN\n    certificateVerification:\n      failureMode: fail-open\n      crl:\n        enabled: true\n        timeout: 10000\n        cacheTtl: 86400000\n        gracePeriod: 1d\n      ocsp:\n        timeout: 5s\n        errorCacheTtl: 300000\n        failureMode: fail-closed\noperationsApi:\n  network:\n    port: null\n    securePort: 9925\n    mtls: true\nlogging:\n  level: warn\n`,
  `tls:\n  - certificate: <ROOTPATH>/keys/a.pem\n    privateKey: <ROOTPATH>/keys/a-key.pem\n    host: [a.example, "*.b.example"]\n  - certificate: |\n      ${PEM.replace(/\n/g, '\n      ')}\n    privateKey: ~/k.pem\n    certificateAuthority: <ROOTPATH>/keys/ca.pem\n    ciphers: ECDHE-ECDSA-AES128-GCM-SHA256\nhttp:\n  securePort: 443\n  mtls: true\n`,
  `operationsApi:\n  tls:\n    certificate: /x/ops.pem\n    privateKey: /x/ops-key.pem\n  network: { port: 9925, securePort: null, mtls: { required: false, certificateVerification: true } }\nauthentication:\n  operationTokenTimeout: 15m\n  refreshTokenTimeout: 30d\n`,
  `http: {port: 80, securePort: 65535, mtls: {user: null, certificateVerification: {crl: false, ocsp: {enabled: false}}}}\nunknownKey: 1\nlogging: {level: trace}\n`,
];
const enc = new TextEncoder();
const seeds = SEEDS.map((s) => enc.encode(s));

/** YAML-shaped mutations on top of the byte mutator. */
function yamlMutation(text: string, r: () => number): string {
  const int = (n: number) => Math.floor(r() * n);
  const at = int(text.length + 1);
  switch (int(8)) {
    case 0: {
      const d = r() < 0.8 ? 1 + int(200) : 5000 + int(50_000);
      return text.slice(0, at) + '['.repeat(d) + 'x' + ']'.repeat(r() < 0.5 ? d : int(d)) + text.slice(at);
    }
    case 1: {
      const d = r() < 0.8 ? 1 + int(100) : 1000 + int(2000);
      return `${Array.from({ length: d }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n` + text;
    }
    case 2:
      // Alias bomb ("billion laughs").
      return `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nhttp: *e\n` + text;
    case 3:
      return text.replace(/ {2}/g, () => (r() < 0.2 ? '\t' : '  '));
    case 4:
      return text.replace(/\d+/g, (m) => (r() < 0.3 ? ['1e309', '-0', '0x7fffffffffffffffffff', 'NaN', '.inf', '9'.repeat(400), '1_000', '0o777'][int(8)]! : m));
    case 5:
      return text + text.slice(0, int(text.length));
    case 6:
      return text.slice(0, at) + ['!!binary AAAA', '!!js/function x', '? [a]\n: b', '*undefinedAlias', '&a', '%YAML 1.1\n---\n', '---\n...\n---\n', '"\\u', "'", '\u0000', '\ufeff'][int(11)]! + text.slice(at);
    default:
      return text.replace(/: [^\n]*/g, (m) => (r() < 0.3 ? `: ${['null', '~', 'true', '[]', '{}', '""', '-1', '1.5', 'yes', '<ROOTPATH>', 'fail-sideways'][int(11)]}` : m));
  }
}

describe(`loadConfig under ${RUNS} mutated harperdb-config.yaml files`, () => {
  it('no crash, no hang over 1 s, only ConfigError (typed, with code)', async () => {
    const r = rng(FUZZ_SEED ^ 0xc0f1);
    const dec = new TextDecoder();
    const file = join(t.dir, 'harperdb-config.yaml');
    const failures: string[] = [];
    const codes: Record<string, number> = {};
    let accepted = 0;
    let maxMs = 0;
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i++) {
      let text: string;
      if (i % 50 === 0) text = SEEDS[(i / 50) % SEEDS.length]!;
      else if (r() < 0.5) text = dec.decode(mutate(seeds, r).bytes);
      else text = yamlMutation(r() < 0.5 ? SEEDS[Math.floor(r() * SEEDS.length)]! : dec.decode(mutate(seeds, r).bytes), r);
      writeFileSync(file, text);
      const start = performance.now();
      try {
        await loadConfig({ root: t.dir, configFile: file, env: {}, homedir: t.dir, createIfMissing: false });
        accepted++;
      } catch (err) {
        if (err instanceof HarperTlsError && typeof err.code === 'string') codes[err.code] = (codes[err.code] ?? 0) + 1;
        else if (failures.length < 10) failures.push(`input ${i}: ${String((err as Error)?.stack ?? err).split('\n').slice(0, 4).join(' | ')} :: ${JSON.stringify(text.slice(0, 120))}`);
      }
      const ms = performance.now() - start;
      maxMs = Math.max(maxMs, ms);
      if (ms > 1000 && failures.length < 10) failures.push(`input ${i} took ${ms.toFixed(0)} ms :: ${JSON.stringify(text.slice(0, 120))}`);
    }
    console.log(`fuzz loadConfig: ${RUNS} inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s (max ${maxMs.toFixed(1)} ms/input), ${accepted} accepted, typed errors ${JSON.stringify(codes)}, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(0);
  }, 900_000);
});
