import type { ResolveContext } from './context.js';
import type { HarperConfig, ListenerNetwork } from './types.js';
import { readForwardedCertificate, readProxies } from './proxies.js';

/**
 * SPEC.md section 7 on the application listeners: `http.mtls.forwardedCertificate` joins the
 * resolved `http.mtls` object, `http.trustedProxies` / `http.proxyProtocol` the `http` section.
 */
export function withProxies<N extends ListenerNetwork & { http2: boolean }>(ctx: ResolveContext, net: N): HarperConfig['http'] {
  const path = ['http', 'mtls', 'forwardedCertificate'];
  let forwarded = ctx.get(['http', 'mtls']) !== null && typeof ctx.get(['http', 'mtls']) === 'object' ? readForwardedCertificate(ctx, path) : undefined;
  if (ctx.get(path) !== undefined && !net.mtls) {
    ctx.issue(path, ctx.get(path), 'has no effect: http.mtls is off; set http.mtls to an object with forwardedCertificate in it');
    forwarded = undefined;
  }
  const mtls = net.mtls && forwarded ? { ...net.mtls, forwardedCertificate: forwarded } : net.mtls;
  return { ...net, mtls, ...readProxies(ctx, ['http'], forwarded) };
}
