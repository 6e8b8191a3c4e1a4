import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:net';
import type { HarperConfig } from '@harper-tls/config';
import { compileTrustedProxies, type ForwardedCertificateOption, type TrustedProxies } from '@harper-tls/mtls-auth';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { ListenerName } from '../server.js';
import { forwardedHeadersTrusted, installForwardingPolicy } from './forwarding-policy.js';
import { installProxyProtocol } from './proxy-protocol/accept.js';

/** The application listeners: `http.trustedProxies`, the forwarded certificate and `http.proxyProtocol` apply to them. */
const APP_LISTENERS: readonly ListenerName[] = ['http', 'https'];

/** SPEC.md section 7 as the bootstrap composes it: the trusted proxies, once compiled. */
export function trustedProxiesOf(config: HarperConfig): TrustedProxies {
  return compileTrustedProxies(config.http.trustedProxies, 'http.trustedProxies');
}

/**
 * The authenticator's `forwarded` option for an application listener, when
 * `http.mtls.forwardedCertificate` is configured: read only from requests the forwarding policy
 * trusts (TCP peer in `trustedProxies`, and not a PROXY connection naming an untrusted client).
 */
export function forwardedOption(config: HarperConfig): ForwardedCertificateOption | undefined {
  const f = config.http.mtls ? config.http.mtls.forwardedCertificate : undefined;
  return f ? { header: f.header, format: f.format, trusted: (req) => forwardedHeadersTrusted(req as IncomingMessage) } : undefined;
}

/**
 * Installs on each Node server its forwarding policy (application listeners: `trustedProxies`;
 * the Operations API trusts no proxy) and, with `http.proxyProtocol`, the PROXY protocol in
 * front of the application listeners. Removed headers and refused connections are counted.
 */
export function setupForwarding(opts: { config: HarperConfig; proxies: TrustedProxies; logger: Logger; metrics: ServerMetrics; servers: Array<{ name: ListenerName; server: Server | undefined }> }): void {
  const { config, proxies, logger, metrics } = opts;
  const nobody = compileTrustedProxies([]);
  const header = config.http.mtls ? config.http.mtls.forwardedCertificate?.header : undefined;
  let warned = false;
  for (const { name, server } of opts.servers) {
    if (!server) continue;
    const app = APP_LISTENERS.includes(name);
    installForwardingPolicy(server, {
      proxies: app ? proxies : nobody,
      certificateHeader: header,
      onUntrusted: (req, removed) => {
        metrics.forwardedUntrusted.inc({ listener: name });
        // Once per process at warn (a misconfigured proxy list shows at once), then at debug.
        const line = { listener: name, peer: req.socket?.remoteAddress, removed };
        if (!warned && app && !proxies.empty) {
          warned = true;
          logger.warn(line, 'forwarded headers from a peer outside http.trustedProxies were removed (logged once; counted in harper_tls_forwarded_untrusted_total)');
        } else logger.debug(line, 'forwarded headers from an untrusted peer removed');
      },
    });
    if (app && config.http.proxyProtocol) {
      installProxyProtocol(server, {
        proxies,
        onRefused: (why, remote, detail) => {
          metrics.proxyProtocolRefused.inc({ listener: name, reason: why });
          logger.info({ listener: name, peer: remote, reason: why, ...(detail ? { detail } : {}) }, 'PROXY protocol: connection closed');
        },
      });
    }
  }
}
