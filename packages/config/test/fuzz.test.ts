import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../src/index.js';
import { tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());

const KEYS = ['http', 'port', 'securePort', 'mtls', 'required', 'user', 'certificateVerification', 'crl', 'ocsp', 'timeout', 'failureMode', 'tls', 'certificate', 'host', 'operationsApi', 'network', 'logging', 'level'];

/** Random documents shaped like configurations (known keys, wrong values, nesting). */
const doc = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, 1, 65536, -1, 1.5, 'CN', 'fail-open', '', '~', '<ROOTPATH>/x', '-----BEGIN CERTIFICATE-----'),
    fc.string(),
    fc.integer(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 5 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('loadConfig never fails with anything but ConfigError', () => {
  it('on 2,000 random configurations (file and env)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(doc, fc.string({ maxLength: 20 }), async (value, envValue) => {
        n++;
        const file = t.write('fuzz.yaml', stringify(value));
        try {
          await loadConfig({ root: t.dir, configFile: file, env: { HTTP_MTLS: envValue, TLS: envValue } });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          expect(err.issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 20_000 },
    );
    expect(n).toBeGreaterThan(100);
  });

  it('on random bytes as a file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (text) => {
        const file = t.write('bytes.yaml', text);
        try {
          await loadConfig({ root: t.dir, configFile: file, env: {} });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
        }
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 10_000 },
    );
  });
});
