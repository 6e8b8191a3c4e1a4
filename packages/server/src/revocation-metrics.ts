import type { RevocationChecker } from '@harper-tls/revocation';
import type { ServerMetrics } from './metrics.js';

/** Wraps a checker so every verdict feeds the revocation counters and latency histogram. */
export function instrumentChecker(checker: RevocationChecker, metrics: ServerMetrics): RevocationChecker {
  return {
    ...checker,
    async check(chain, opts) {
      const end = metrics.revocationLatency.startTimer();
      try {
        const verdict = await checker.check(chain, opts);
        for (const c of verdict.certificates) {
          metrics.revocationChecks.inc({ method: c.method ?? 'none', status: c.status, cache: c.cache ?? 'none' });
        }
        return verdict;
      } finally {
        end();
      }
    },
    close: () => checker.close(),
  };
}
