import { describe, expect, it } from 'vitest';
import { chainOf, checker } from '../helpers/checker-fixture.js';
import { node } from '../helpers/shared-node.js';

/**
 * Checkers of several workers sharing one node (SharedRevocation) against `openssl ocsp`: one
 * query per certificate for the whole node, its answer cached by every checker before the
 * querying one answers.
 */
describe('OCSP shared by the checkers of one node', () => {
  it('concurrent checks on three checkers send one request; every checker then answers from its cache', async () => {
    const n = node();
    const checkers = [0, 1, 2].map(() => checker({ crl: false }, { shared: n.member() }));
    const verdicts = await Promise.all(checkers.flatMap((c) => [c.check(chainOf('good')), c.check(chainOf('good'))]));
    expect(verdicts.every((v) => v.status === 'good' && v.allowed)).toBe(true);
    expect(checkers.reduce((a, c) => a + c.stats.ocspRequests, 0)).toBe(1);
    expect(n.published.filter((e) => e.kind === 'ocsp')).toHaveLength(1);
    for (const c of checkers) expect((await c.check(chainOf('good'))).certificates[0]!.cache).toBe('hit');
    const revoked = await checkers[2]!.check(chainOf('revoked'));
    expect(revoked).toMatchObject({ status: 'revoked', allowed: false });
    for (const c of checkers.slice(0, 2)) expect((await c.check(chainOf('revoked'))).certificates[0]).toMatchObject({ status: 'revoked', cache: 'hit' });
    expect(checkers.reduce((a, c) => a + c.stats.ocspRequests, 0)).toBe(2);
    await Promise.all(checkers.map((c) => c.close()));
  });
});
