import type { IncomingMessage } from 'node:http';
import { applyForwardingPolicy, type ForwardingInfo } from './forwarding-policy.js';

/**
 * The client address of a request (SPEC.md section 7), for logs, audit lines and the
 * `X-Forwarded-For` sent to upstreams: the address in the connection's PROXY header when there
 * is one, else the TCP peer; then, when the forwarded headers are believed (a trusted proxy),
 * the rightmost `X-Forwarded-For` address that is not a trusted proxy. `::ffff:a.b.c.d` is
 * `a.b.c.d`; the Unix domain socket is `unix-socket`. Applies the forwarding policy first when
 * nothing has yet (so untrusted headers are never read).
 */
export function clientAddress(req: IncomingMessage): string {
  return applyForwardingPolicy(req).clientAddress;
}

/** Everything the forwarding policy decided of a request: the TCP peer, whether it is trusted, the PROXY header, what was removed. */
export function clientAddressInfo(req: IncomingMessage): Readonly<ForwardingInfo> {
  return applyForwardingPolicy(req);
}
