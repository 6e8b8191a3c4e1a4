import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kill9 } from './harness.js';
import { ALICE_BODY, REVOKED_BODY, downPortNumber, scenario, setUp, startServer, tearDown, type Reply } from './faults-lib.js';

/**
 * OCSP responder: slow (3 s, timeout 1 s), down, garbage, response for another serial.
 * Against a `harper-tls start` child per failure mode: /health stays 200, a certificate whose CRL
 * works still authenticates, every request gets the failure mode's answer, RSS stays bounded, and
 * the log lines per fault are counted (see faults-lib.ts).
 */
const faults = (expected: Reply): Array<[string, string, Reply]> => [
  ['ocsp-slow', '/ocsp/slow', expected],
  ['ocsp-down', `:${downPortNumber}/ocsp`, expected],
  ['ocsp-garbage', '/ocsp/garbage', expected],
  // A genuine CA-signed response for another serial is an invalid answer: refused in both modes.
  ['ocsp-other', '/ocsp/other', { status: 401, body: REVOKED_BODY }],
];
const logCounts = new Map<string, { fault: number; auth: number; requests: number }>();
const results: string[] = [];

describe('ocsp faults against a running server', () => {
  beforeAll(setUp, 60_000);
  afterAll(async () => {
    console.log(results.join('\n'));
    await tearDown();
  });

  it.each([
    ['fail-closed', { status: 401, body: REVOKED_BODY }],
    ['fail-open', { status: 200, body: ALICE_BODY }],
  ] as Array<[string, Reply]>)('%s: the server stays up, answers the good certificate and applies the failure mode', async (mode, expected) => {
    void downPortNumber;
    const { child, ports } = await startServer('ocsp-' + mode, { failureMode: mode, crl: { timeout: 1000, failureMode: mode }, ocsp: { timeout: 1000, errorCacheTtl: 60_000, failureMode: mode } });
    try {
      await scenario(child, ports, mode, faults(expected), logCounts, results);
    } finally {
      await kill9(child);
    }
  }, 60_000);

  // The checker logs each failing source (URL + error code) at warn once per faultLogIntervalMs
  // (60 s; both waves fall in one interval); the server writes one audit line per refused request.
  it('logs each fault once per interval, and one audit line per refused request', () => {
    expect(logCounts.size).toBeGreaterThan(0);
    for (const [k, c] of logCounts) {
      expect(c.fault, `${k}: the fault is not logged`).toBeGreaterThanOrEqual(1);
      // At most one line per distinct error code of the source (e.g. a timeout, then a refused connection).
      expect(c.fault, `${k}: ${c.fault} lines naming the fault for ${c.requests} requests`).toBeLessThanOrEqual(2);
      expect(c.auth, `${k}: ${c.auth} "authentication failed" lines for ${c.requests} requests`).toBeLessThanOrEqual(c.requests);
    }
  });
});
