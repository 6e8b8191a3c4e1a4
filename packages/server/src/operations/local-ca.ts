import type { RevocationReason } from '@harper-tls/cert-gen';
import { FORBIDDEN, isSuperUser, type OperationHandler } from './types.js';

/** The part of cert-gen's local CA `revoke_certificate` uses. */
export interface RevokingCa {
  revoke(target: string, reason?: RevocationReason): Promise<{ serialHex: string; cn: string; status: string; revokedAt?: string; reason?: string }>;
}

/**
 * `revoke_certificate` (SPEC.md section 4): revokes a certificate of the local CA by `serial`
 * (hex) or `certificate` (PEM), like `harper-tls cert revoke`; super_user only. `onRevoked` runs
 * before the answer, so open connections of that certificate are re-checked on their next request.
 */
export function localCaOperations(ca: RevokingCa | undefined, onRevoked: () => void): OperationHandler {
  return async (body, caller) => {
    if (body.operation !== 'revoke_certificate') return undefined;
    if (!isSuperUser(caller)) return FORBIDDEN;
    if (!ca) return { status: 400, body: { error: 'this server has no local CA (keys/ca.pem and keys/ca-privateKey.pem are missing, or ca.pem was replaced by another CA)' } };
    const { serial, certificate, reason } = body;
    const target = typeof serial === 'string' && serial.length ? serial : typeof certificate === 'string' && certificate.length ? certificate : undefined;
    if (!target) return { status: 400, body: { error: '"serial" (hex) or "certificate" (PEM) is required' } };
    if (typeof serial === 'string' && typeof certificate === 'string') return { status: 400, body: { error: 'give "serial" or "certificate", not both' } };
    if (reason !== undefined && typeof reason !== 'string') return { status: 400, body: { error: '"reason" must be a string (e.g. keyCompromise)' } };
    try {
      const rec = await ca.revoke(target, reason as RevocationReason | undefined);
      onRevoked();
      return { status: 200, body: { message: `Successfully revoked certificate ${rec.serialHex} (CN=${rec.cn})`, serial: rec.serialHex, cn: rec.cn, revokedAt: rec.revokedAt, reason: rec.reason } };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_CERTGEN_UNKNOWN_SERIAL' || code === 'ERR_CERTGEN_INVALID_INPUT') return { status: 400, body: { error: (err as Error).message } };
      if (code === 'ERR_SERVER_DATABASE') return { status: 500, body: { error: (err as Error).message } };
      throw err;
    }
  };
}
