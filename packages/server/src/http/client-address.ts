import type { IncomingMessage } from 'node:http';

/**
 * The address of the client a request came from, the one place every consumer reads it
 * (applications' X-Forwarded-For and Forwarded). Today the TCP peer; the trusted-proxy work
 * (SPEC.md section 7) replaces this with the address a trusted proxy vouches for.
 */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? '';
}
