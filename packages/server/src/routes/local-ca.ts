import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendBytes, sendJson } from '../http/respond.js';
import type { ExtraRoute } from '../server.js';

/** The parts of cert-gen's local CA these routes use. */
export interface LocalCaEndpoints {
  crl(): Promise<Uint8Array>;
  ocspHttpHandler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

export const CRL_PATH = '/ca/crl';
export const OCSP_PATH = '/ca/ocsp';

/**
 * Publishes the local CA's CRL (`GET /ca/crl`, DER, the CDP URL put in issued certificates)
 * and answers OCSP for it (`POST /ca/ocsp`, `GET /ca/ocsp/<base64>`, the AIA URL).
 */
export function localCaRoute(ca: LocalCaEndpoints): ExtraRoute {
  return async (req, res, url) => {
    if (url.pathname === CRL_PATH || url.pathname === `${CRL_PATH}.pem`) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'use GET' }), true;
      const der = await ca.crl();
      if (url.pathname.endsWith('.pem')) {
        const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END X509 CRL-----\n`;
        sendBytes(res, 200, Buffer.from(pem), 'application/x-pem-file');
      } else sendBytes(res, 200, der, 'application/pkix-crl');
      return true;
    }
    if (url.pathname === OCSP_PATH || url.pathname.startsWith(`${OCSP_PATH}/`)) {
      // The handler expects the OCSP path stripped, as a responder at the root would see it.
      req.url = (req.url ?? '/').slice(OCSP_PATH.length) || '/';
      await ca.ocspHttpHandler(req, res);
      return true;
    }
    return false;
  };
}

/**
 * `GET /metrics` (Prometheus text format) on the Operations API. By default only a super_user
 * may read it (mTLS, Basic or JWT, like every other Operations API request); with
 * `requireAuthentication: false` it is open, for a scraper on an internal port.
 */
export function metricsRoute(render: () => Promise<{ contentType: string; body: string }>, opts: { requireAuthentication?: boolean } = {}): ExtraRoute {
  const requireAuthentication = opts.requireAuthentication ?? true;
  return async (req, res, url, ctx) => {
    if (url.pathname !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    if (requireAuthentication) {
      const auth = await ctx.authenticate();
      if (!auth.ok) return sendJson(res, auth.status, { error: auth.error }), true;
      if (auth.user.role !== 'super_user') return sendJson(res, 403, { error: 'reading /metrics needs the super_user role' }), true;
    }
    const { contentType, body } = await render();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
    return true;
  };
}
