import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A request id: the client's `x-request-id` when it is short and printable, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given)) return given;
  return randomUUID();
}
