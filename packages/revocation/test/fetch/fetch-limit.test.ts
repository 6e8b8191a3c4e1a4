import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes } from '../../src/fetch/fetch-bytes.js';

/** The size limit is enforced while streaming: the client hangs up instead of reading a huge body. */
const TOTAL = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;
const LIMIT = 256 * 1024;

interface Seen { written: number; finished: boolean; closedAt?: number }
let server: Server;
let base = '';
const seen = new Map<string, Promise<Seen>>();
const payload = randomBytes(300_000);

/** Writes `TOTAL` bytes in chunks, honouring backpressure, until done or the client goes away. */
function stream(res: ServerResponse): Promise<Seen> {
  return new Promise((resolve) => {
    const s: Seen = { written: 0, finished: false };
    let closed = false;
    res.on('close', () => {
      closed = true;
      s.finished = res.writableFinished;
      s.closedAt = Date.now();
      resolve(s);
    });
    const chunk = Buffer.alloc(CHUNK, 0x41);
    const pump = () => {
      while (!closed && s.written < TOTAL) {
        s.written += CHUNK;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!closed) res.end();
    };
    pump();
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    if (path === '/unannounced') {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }); // chunked: no content-length
      seen.set(path, stream(res));
    } else if (path === '/announced') {
      res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': String(TOTAL) });
      seen.set(path, stream(res));
    } else if (path === '/exact') {
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.end(payload);
    } else if (path === '/chunked') {
      res.writeHead(200);
      for (let i = 0; i < payload.length; i += 10_000) res.write(payload.subarray(i, i + 10_000));
      res.end();
    } else if (path === '/404') {
      res.writeHead(404, { 'content-length': String(TOTAL) });
      seen.set(path, stream(res));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('fetchBytes size limit while streaming', () => {
  it('aborts an unannounced (chunked) body as soon as it passes the limit: the server sees the socket closed early', async () => {
    const t0 = Date.now();
    await expect(fetchBytes(`${base}/unannounced`, { timeoutMs: 10_000, maxBytes: LIMIT })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TOO_LARGE', message: expect.stringContaining(`${LIMIT}-byte limit`) });
    const rejectedAt = Date.now();
    const s = await seen.get('/unannounced')!;
    expect(s.closedAt! - rejectedAt).toBeLessThan(250);
    expect(s.finished).toBe(false);
    // The limit plus what the socket buffers held, nowhere near the 64 MiB body.
    expect(s.written).toBeLessThan(TOTAL / 4);
    expect(s.closedAt! - t0).toBeLessThan(5000);
  });

  it('aborts at once when content-length announces more than the limit, without reading the body', async () => {
    await expect(fetchBytes(`${base}/announced`, { timeoutMs: 10_000, maxBytes: LIMIT })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TOO_LARGE', message: expect.stringContaining(`${TOTAL} bytes`) });
    const rejectedAt = Date.now();
    const s = await seen.get('/announced')!;
    expect(s.finished).toBe(false);
    expect(s.written).toBeLessThan(TOTAL / 4);
    // Closed by the client right away, not whenever the unread response is collected.
    expect(s.closedAt! - rejectedAt).toBeLessThan(250);
  });

  it('closes the connection of an error status instead of leaving its body unread', async () => {
    await expect(fetchBytes(`${base}/404`, { timeoutMs: 10_000, maxBytes: TOTAL * 2 })).rejects.toMatchObject({ code: 'ERR_REVOCATION_FETCH' });
    const rejectedAt = Date.now();
    const s = await seen.get('/404')!;
    expect(s.closedAt! - rejectedAt).toBeLessThan(250);
    expect(s.finished).toBe(false);
    expect(s.written).toBeLessThan(TOTAL / 4);
  });

  it('returns the exact bytes, with content-length (preallocated) and chunked (one copy)', async () => {
    for (const path of ['/exact', '/chunked']) {
      const got = await fetchBytes(`${base}${path}`, { timeoutMs: 5000, maxBytes: payload.length });
      expect(got.byteLength).toBe(payload.length);
      expect(Buffer.from(got).equals(payload)).toBe(true);
    }
    // One byte under the size: refused in both forms.
    for (const path of ['/exact', '/chunked']) {
      await expect(fetchBytes(`${base}${path}`, { timeoutMs: 5000, maxBytes: payload.length - 1 })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TOO_LARGE' });
    }
  });
});
