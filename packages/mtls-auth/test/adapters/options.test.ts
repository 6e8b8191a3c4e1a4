import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/adapters/options.js';

const fails = (opts: unknown, message: RegExp) => {
  let err: unknown;
  try {
    resolveOptions(opts as never);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code: 'ERR_AUTH_INVALID_OPTION', message: expect.stringMatching(message) });
};

describe('mtls(options) validation', () => {
  it('defaults: required, CN, every CN a user, revocation off, no forwarded certificate', () => {
    const o = resolveOptions(undefined);
    expect(o).toMatchObject({ required: true, user: { kind: 'cn' }, users: undefined, revocation: false, forwarded: undefined, ca: undefined });
  });

  it('revocation: {} and true are CRL then OCSP fail-closed; keys of certificateVerification otherwise', () => {
    for (const r of [{}, true]) expect(resolveOptions({ revocation: r })).toMatchObject({ revocation: { enabled: true, failureMode: 'fail-closed', crl: { enabled: true }, ocsp: { enabled: true } } });
    expect(resolveOptions({ revocation: { ocsp: false, crl: { timeout: 2000 } } }).revocation).toMatchObject({ crl: { timeout: 2000 }, ocsp: { enabled: false } });
  });

  it('names the option and what is allowed', () => {
    fails({ requird: true }, /unknown option "requird"/);
    fails({ required: 'yes' }, /options.required must be true or false/);
    fails({ user: 'cn' }, /options.user = "cn": expected "CN"/);
    fails({ users: {} }, /options.users must be a function/);
    fails({ revocation: { crl: { timeout: 10 } } }, /options.revocation.crl.timeout = 10: too small/);
    fails({ revocation: { crl: false, ocsp: false } }, /both crl and ocsp are disabled/);
    fails({ revocation: 'on' }, /options.revocation = "on"/);
    fails({ trustedProxies: ['10.0.0.0/33'] }, /options.trustedProxies\[0\] = "10.0.0.0\/33"/);
    fails({ trustedProxies: ['proxy.local'] }, /options.trustedProxies\[0\]/);
    fails({ trustedProxies: '10.0.0.1' }, /must be a list/);
    fails({ forwardedCertificate: { format: 'pem' } }, /options.forwardedCertificate.format = "pem"/);
    fails({ forwardedCertificate: { format: 'xfcc', header: 'bad header' } }, /options.forwardedCertificate.header/);
    fails({ ca: 'not a pem' }, /options.ca holds no certificate/);
  });

  it('forwardedCertificate: default header per format, trustedProxies as addresses and CIDRs (IPv4 and IPv6)', () => {
    const o = resolveOptions({ forwardedCertificate: { format: 'xfcc' }, trustedProxies: ['10.0.0.0/8', '::1', '192.168.1.7'] });
    expect(o.forwarded!.header).toBe('x-forwarded-client-cert');
    expect(o.forwarded!.proxies.contains('10.2.3.4')).toBe(true);
    expect(o.forwarded!.proxies.contains('::ffff:10.2.3.4')).toBe(true);
    expect(o.forwarded!.proxies.contains('11.0.0.1')).toBe(false);
    expect(o.forwarded!.proxies.contains('::1')).toBe(true);
    expect(resolveOptions({ forwardedCertificate: { format: 'der-base64', header: 'X-Client-DER' } }).forwarded!.header).toBe('x-client-der');
  });
});
