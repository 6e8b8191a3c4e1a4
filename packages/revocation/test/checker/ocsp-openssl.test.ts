import { describe, expect, it } from 'vitest';
import { chainOf, checker, ocspPort } from '../helpers/checker-fixture.js';

/** OCSP against `openssl ocsp` on 127.0.0.1 and misbehaving local responders. */
describe('OCSP against openssl ocsp on 127.0.0.1', () => {
  it('good, with the responder URL and a fresh (miss) then cached (hit) answer', async () => {
    const c = checker({ crl: false });
    const v = await c.check(chainOf('good'));
    expect(v).toMatchObject({ status: 'good', allowed: true });
    expect(v.certificates[0]).toMatchObject({ status: 'good', method: 'ocsp', source: `http://127.0.0.1:${ocspPort}/`, cache: 'miss' });
    expect((await c.check(chainOf('good'))).certificates[0]!.cache).toBe('hit');
    expect(c.stats.ocspRequests).toBe(1);
  });

  it('revoked, with the reason', async () => {
    const v = await checker({ crl: false }).check(chainOf('revoked'));
    expect(v).toMatchObject({ status: 'revoked', allowed: false });
    expect(v.certificates[0]).toMatchObject({ method: 'ocsp', reason: 'keyCompromise' });
  });

  it('20 concurrent checks of the same certificate send one request', async () => {
    const c = checker({ crl: false });
    const all = await Promise.all(Array.from({ length: 20 }, () => c.check(chainOf('good'))));
    expect(all.every((v) => v.status === 'good')).toBe(true);
    expect(c.stats.ocspRequests).toBe(1);
  });

  // [certificate, what happened, allowed when OCSP is fail-open]
  const failures: Array<[string, string, boolean]> = [
    ['unknown', 'the responder does not know the serial', true],
    ['down', 'the responder is down (connection refused)', true],
    ['slow', 'the responder answers after the timeout', true],
    ['garbage', 'the responder returns garbage', true],
    ['wrongsigner', 'the response is signed by a key of another CA', false],
    ['noekusigned', 'the signer is issued by the CA but lacks id-kp-OCSPSigning', false],
    ['otherserial', 'the response is about another certificate', false],
  ];
  it.each(failures)('%s (%s): unknown; refused fail-closed; fail-open allows it: %s', async (name, _what, openAllows) => {
    const t0 = Date.now();
    // The event loop keeps turning while the responder is slow, down or hung.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    const closed = await checker({ crl: false }).check(chainOf(name)).finally(() => clearInterval(timer));
    if (name === 'slow') expect(ticks).toBeGreaterThan(10);
    if (name === 'noekusigned') expect(closed.certificates[0]!.errors.join(' ')).toMatch(/lacks the OCSPSigning/);
    expect(closed).toMatchObject({ status: 'unknown', allowed: false });
    expect(closed.certificates[0]!.errors.join(' ')).toMatch(/ocsp: /);
    const open = await checker({ crl: false, ocsp: { failureMode: 'fail-open' }, global: 'fail-open' }).check(chainOf(name));
    expect(open.status).toBe('unknown');
    expect(open.allowed).toBe(openAllows);
    expect(Date.now() - t0).toBeLessThan(6000); // the 1 s timeout bounds the slow responder
  });
});

