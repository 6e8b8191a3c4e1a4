import type { CertificateVerificationConfig, CrlConfig, FailureMode, MtlsConfig, MtlsUserMapping, OcspConfig } from './types.js';
import type { ResolveContext } from './context.js';
import type { PathPart } from './sources.js';
import { isPlainObject, readBoolean, readEnum, readMs } from './values.js';

const FAILURE_MODES: readonly FailureMode[] = ['fail-open', 'fail-closed'];

/** SPEC.md section 2 defaults, in ms. */
export const CRL_DEFAULTS: Readonly<CrlConfig> = Object.freeze({ enabled: true, timeout: 10_000, cacheTtl: 86_400_000, gracePeriod: 86_400_000, failureMode: 'fail-closed' });
export const OCSP_DEFAULTS: Readonly<OcspConfig> = Object.freeze({ enabled: true, timeout: 5_000, cacheTtl: 3_600_000, errorCacheTtl: 300_000, failureMode: 'fail-closed' });

/** The settings `certificateVerification: true` stands for. */
export function defaultCertificateVerification(): CertificateVerificationConfig {
  return { enabled: true, failureMode: 'fail-closed', crl: { ...CRL_DEFAULTS }, ocsp: { ...OCSP_DEFAULTS } };
}

function readCrl(ctx: ResolveContext, path: PathPart[]): CrlConfig {
  const v = ctx.get(path);
  if (v === undefined || v === true) return { ...CRL_DEFAULTS };
  if (v === false) return { ...CRL_DEFAULTS, enabled: false };
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected true, false, or an object {enabled, timeout, cacheTtl, gracePeriod, failureMode}');
    return { ...CRL_DEFAULTS };
  }
  return {
    enabled: readBoolean(ctx, [...path, 'enabled'], true),
    timeout: readMs(ctx, [...path, 'timeout'], CRL_DEFAULTS.timeout, 1000),
    cacheTtl: readMs(ctx, [...path, 'cacheTtl'], CRL_DEFAULTS.cacheTtl, 1000),
    gracePeriod: readMs(ctx, [...path, 'gracePeriod'], CRL_DEFAULTS.gracePeriod, 0, 'span'),
    failureMode: readEnum(ctx, [...path, 'failureMode'], FAILURE_MODES, 'fail-closed'),
  };
}

function readOcsp(ctx: ResolveContext, path: PathPart[]): OcspConfig {
  const v = ctx.get(path);
  if (v === undefined || v === true) return { ...OCSP_DEFAULTS };
  if (v === false) return { ...OCSP_DEFAULTS, enabled: false };
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected true, false, or an object {enabled, timeout, cacheTtl, errorCacheTtl, failureMode}');
    return { ...OCSP_DEFAULTS };
  }
  return {
    enabled: readBoolean(ctx, [...path, 'enabled'], true),
    timeout: readMs(ctx, [...path, 'timeout'], OCSP_DEFAULTS.timeout, 1000),
    cacheTtl: readMs(ctx, [...path, 'cacheTtl'], OCSP_DEFAULTS.cacheTtl, 1000),
    errorCacheTtl: readMs(ctx, [...path, 'errorCacheTtl'], OCSP_DEFAULTS.errorCacheTtl, 1000),
    failureMode: readEnum(ctx, [...path, 'failureMode'], FAILURE_MODES, 'fail-closed'),
  };
}

export function readVerification(ctx: ResolveContext, path: PathPart[]): CertificateVerificationConfig | false {
  const v = ctx.get(path);
  if (v === undefined || v === false) return false;
  if (v === true) return defaultCertificateVerification();
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected false, true, or an object {failureMode, crl, ocsp}');
    return defaultCertificateVerification(); // fail closed while reporting
  }
  const cv: CertificateVerificationConfig = {
    enabled: true,
    failureMode: readEnum(ctx, [...path, 'failureMode'], FAILURE_MODES, 'fail-closed'),
    crl: readCrl(ctx, [...path, 'crl']),
    ocsp: readOcsp(ctx, [...path, 'ocsp']),
  };
  if (!cv.crl.enabled && !cv.ocsp.enabled) {
    ctx.issue(path, v, 'both crl and ocsp are disabled, so no certificate could ever be checked; enable one, or set certificateVerification: false to turn revocation checking off explicitly');
  }
  return cv;
}

function readUser(ctx: ResolveContext, path: PathPart[]): MtlsUserMapping {
  const v = ctx.get(path);
  if (v === undefined || v === 'CN' || v === 'Common Name') return { kind: 'cn' };
  if (v === null) return { kind: 'none' };
  if (typeof v === 'string' && v.length > 0) {
    if (/^(cn|common ?name)$/i.test(v)) {
      ctx.issue(path, v, 'read as the certificate CN; write "CN" (a user literally named so is not supported)', true);
      return { kind: 'cn' };
    }
    return { kind: 'fixed', username: v };
  }
  ctx.issue(path, v, 'expected "CN" (the subject CN is the username), another username (every mTLS client is that user), or null (the certificate names no user)');
  return { kind: 'none' };
}

/** `http.mtls` / `operationsApi.network.mtls`: false, true, or {required, user, certificateVerification}. */
export function readMtls(ctx: ResolveContext, path: PathPart[]): MtlsConfig | false {
  const v = ctx.get(path);
  if (v === undefined || v === false) return false;
  if (v === true) return { required: false, user: { kind: 'cn' }, certificateVerification: false };
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected false, true, or an object {required, user, certificateVerification}');
    return false;
  }
  return {
    required: readBoolean(ctx, [...path, 'required'], false),
    user: readUser(ctx, [...path, 'user']),
    certificateVerification: readVerification(ctx, [...path, 'certificateVerification']),
  };
}
