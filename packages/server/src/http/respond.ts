import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendBytes(res: ServerResponse, status: number, body: Uint8Array, contentType: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': body.byteLength, 'cache-control': 'max-age=60' });
  res.end(body);
}

export class BodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Reads a request body up to `limit` bytes; a larger body is a 413, not a memory problem. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyError(413, `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyError(413, `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON object body; anything else is a 400 that says what was wrong. */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) throw new BodyError(400, 'request body is empty; expected a JSON object with an "operation" field');
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BodyError(400, `request body is not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BodyError(400, 'request body must be a JSON object with an "operation" field');
  }
  return value as Record<string, unknown>;
}
