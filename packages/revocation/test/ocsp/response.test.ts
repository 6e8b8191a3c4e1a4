import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCertificateVerification } from '@harper-tls/config';
import { createRevocationChecker, parseCertificate } from '../../src/index.js';
import { certIdFor } from '../../src/ocsp/request.js';
import { OcspFailure, verifyOcspResponse } from '../../src/ocsp/response.js';
import { OpensslPki } from '../helpers/openssl-pki.js';

/**
 * A response without nonce and without nextUpdate (made offline by `openssl ocsp -reqin`, no
 * -ndays): its thisUpdate is its only date, so an old one (a replayed signed "good") is refused.
 */
const pki = new OpensslPki();
let response: Uint8Array; // about "good", no nonce, no nextUpdate, thisUpdate = when it was made
let madeAt: number;
const DAY = 86_400_000;

beforeAll(() => {
  pki.ca('ca');
  pki.issue('good', 'ca', '1001', { ocsp: 'http://ocsp.test/' });
  pki.record('good', 'ca');
  pki.run('ocsp', '-issuer', 'ca.crt', '-cert', 'good.crt', '-no_nonce', '-reqout', 'good.req');
  madeAt = Date.now();
  // Signed by the CA itself (no delegated signer whose own validity would end first).
  pki.run('ocsp', '-index', 'ca.idx', '-CA', 'ca.crt', '-rsigner', 'ca.crt', '-rkey', 'ca.key', '-reqin', 'good.req', '-respout', 'good.ocsp');
  response = pki.der('good.ocsp');
}, 60_000);

afterAll(() => pki.cleanup());

const refusal = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('OCSP response without nonce and without nextUpdate', () => {
  const ctx = (at: number, maxAgeMs?: number) => {
    const issuer = parseCertificate(pki.pem('ca'));
    return { certId: certIdFor(parseCertificate(pki.pem('good')), issuer, 'sha1'), issuer, at: new Date(at), maxAgeMs };
  };

  it('fresh: accepted; 30 days old: refused as stale, with the default and a configured bound', () => {
    expect(verifyOcspResponse(response, ctx(madeAt)).status).toBe('good');
    expect(verifyOcspResponse(response, ctx(madeAt + 30 * 60_000, 3_600_000)).status).toBe('good');
    for (const maxAgeMs of [undefined, 3_600_000]) {
      const err = refusal(() => verifyOcspResponse(response, ctx(madeAt + 30 * DAY, maxAgeMs)));
      expect(err).toBeInstanceOf(OcspFailure);
      expect(err).toMatchObject({ kind: 'invalid', code: 'ERR_REVOCATION_OCSP_INVALID' });
      expect((err as Error).message).toMatch(/stale \(no nextUpdate/);
    }
    // The bound is ocsp.cacheTtl: 2 hours old is too old for a 1 hour cacheTtl, not for a 1 day one.
    expect(refusal(() => verifyOcspResponse(response, ctx(madeAt + 2 * 3_600_000, 3_600_000)))).toBeInstanceOf(OcspFailure);
    expect(verifyOcspResponse(response, ctx(madeAt + 2 * 3_600_000, DAY)).status).toBe('good');
  });

  it('the checker: a 30 days old replay is refused (fail-closed and fail-open), a fresh one is good', async () => {
    let requests = 0;
    const fetch = async () => {
      requests++;
      return new Response(Buffer.from(response), { status: 200, headers: { 'content-type': 'application/ocsp-response' } });
    };
    const make = (offsetMs: number, mode: 'fail-open' | 'fail-closed') => {
      const config = defaultCertificateVerification();
      config.crl.enabled = false;
      config.failureMode = mode;
      config.ocsp = { ...config.ocsp, failureMode: mode };
      return createRevocationChecker({ config, fetch, now: () => new Date(madeAt + offsetMs) });
    };
    const chain = [pki.pem('good'), pki.pem('ca')];
    const fresh = await make(0, 'fail-closed').check(chain);
    expect(fresh).toMatchObject({ status: 'good', allowed: true });
    for (const mode of ['fail-closed', 'fail-open'] as const) {
      const old = await make(30 * DAY, mode).check(chain);
      expect(old).toMatchObject({ status: 'unknown', allowed: false });
      expect(old.certificates[0]!.errors.join(' ')).toMatch(/ocsp: the OCSP response is stale \(no nextUpdate/);
    }
    expect(requests).toBe(3);
  });
});
