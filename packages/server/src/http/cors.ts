import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsConfig } from '@harper-tls/config';

/** What a preflight answers may be sent (Harper's list). */
export const CORS_ALLOW_HEADERS = 'Content-Type, Authorization, Accept';
/** The methods each API answers. */
export const CORS_METHODS: Record<'app' | 'operations', string> = {
  app: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
  operations: 'POST, GET, OPTIONS',
};

/** A listener's CORS policy, built once from the configuration. */
export interface CorsPolicy {
  readonly anyOrigin: boolean;
  readonly origins: ReadonlySet<string>;
  readonly methods: string;
}

export function corsPolicy(config: CorsConfig | false, api: 'app' | 'operations'): CorsPolicy | undefined {
  if (!config) return undefined;
  return { anyOrigin: config.anyOrigin, origins: new Set(config.origins), methods: CORS_METHODS[api] };
}

/**
 * CORS as Harper does it (SPEC.md section 11): an allowed `Origin` (in the list, or any when the
 * list holds `*` or only null) is echoed in `Access-Control-Allow-Origin`, always with `Vary:
 * Origin` so a cache never serves one origin's answer to another. A preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) is answered here: 204, with the allowed methods and headers
 * for an allowed origin, without any `Access-Control-*` header (so the browser refuses) for
 * another. No `Access-Control-Allow-Credentials`: credentials travel in `Authorization`, which a
 * page sends itself; cookies are not used.
 * Only called for requests that carry `Origin`.
 * @returns true when the request was a preflight and has been answered.
 */
export function applyCors(policy: CorsPolicy, req: IncomingMessage, res: ServerResponse, origin: string): boolean {
  const allowed = policy.anyOrigin || policy.origins.has(origin);
  res.setHeader('vary', 'Origin');
  if (allowed) res.setHeader('access-control-allow-origin', origin);
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
  if (allowed) {
    res.setHeader('access-control-allow-methods', policy.methods);
    res.setHeader('access-control-allow-headers', CORS_ALLOW_HEADERS);
    res.setHeader('access-control-max-age', '600');
  }
  res.writeHead(204);
  res.end();
  return true;
}
