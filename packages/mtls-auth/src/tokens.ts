import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { AuthError } from './errors.js';

type TokenType = 'operation' | 'refresh';

export interface TokenService {
  createTokens(username: string): Promise<{ operation_token: string; refresh_token: string }>;
  /** The username of a valid operation token; undefined for anything else (expired, refresh token, forged). */
  verifyOperationToken(token: string): Promise<string | undefined>;
  /** The username of a valid refresh token. */
  verifyRefreshToken(token: string): Promise<string | undefined>;
  createOperationToken(username: string): Promise<string>;
}

const ISSUER = 'harper-tls';

/**
 * JWTs (HS256, jose) for the Operations API. Each token carries `token_type`, so a refresh
 * token is never accepted as an operation token and the other way round.
 * @param opts.operationTokenTimeoutMs lifetime of operation tokens, ms
 * @param opts.refreshTokenTimeoutMs lifetime of refresh tokens, ms
 * @param opts.now clock; default `() => new Date()`
 */
export function createTokenService(opts: { secret: Uint8Array; operationTokenTimeoutMs: number; refreshTokenTimeoutMs: number; now?: () => Date }): TokenService {
  const now = opts.now ?? (() => new Date());
  if (!(opts.secret instanceof Uint8Array) || opts.secret.length < 32) throw new AuthError('ERR_AUTH_INVALID_OPTION', 'the JWT secret (options.secret) must be at least 32 bytes');
  for (const k of ['operationTokenTimeoutMs', 'refreshTokenTimeoutMs'] as const) {
    if (!Number.isFinite(opts[k]) || opts[k] <= 0) throw new AuthError('ERR_AUTH_INVALID_OPTION', `options.${k} must be a positive number of milliseconds`);
  }
  const sign = (username: string, type: TokenType, lifetimeMs: number) => {
    const iat = Math.floor(now().getTime() / 1000);
    return new SignJWT({ token_type: type })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(username)
      .setIssuer(ISSUER)
      .setIssuedAt(iat)
      .setExpirationTime(iat + Math.max(1, Math.floor(lifetimeMs / 1000)))
      .setJti(randomBytes(9).toString('base64url'))
      .sign(opts.secret);
  };
  const verify = async (token: string, type: TokenType) => {
    if (typeof token !== 'string' || token.length > 8192) return undefined;
    try {
      const { payload } = await jwtVerify(token, opts.secret, { algorithms: ['HS256'], issuer: ISSUER, currentDate: now() });
      return payload.token_type === type && typeof payload.sub === 'string' ? payload.sub : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    async createTokens(username) {
      return { operation_token: await sign(username, 'operation', opts.operationTokenTimeoutMs), refresh_token: await sign(username, 'refresh', opts.refreshTokenTimeoutMs) };
    },
    createOperationToken: (username) => sign(username, 'operation', opts.operationTokenTimeoutMs),
    verifyOperationToken: (token) => verify(token, 'operation'),
    verifyRefreshToken: (token) => verify(token, 'refresh'),
  };
}
