import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { appServer, request, upstreamEntry } from '../helpers/apps.js';

/** An upstream's pool opens a bounded number of connections (each HTTP/2 stream could otherwise open its own); more requests wait for one. */
describe('upstream connections are capped', () => {
  let upstream: http.Server;
  let connections = 0;
  const held: http.ServerResponse[] = [];
  let onHeld: (() => void) | undefined;
  let app: Awaited<ReturnType<typeof appServer>>;

  beforeAll(async () => {
    upstream = http.createServer((_req, res) => {
      held.push(res);
      onHeld?.();
    });
    upstream.on('connection', () => connections++);
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    app = await appServer([upstreamEntry('/', `http://127.0.0.1:${(upstream.address() as { port: number }).port}`, { auth: 'none' })], { upstreamConnections: 2 });
  });
  afterAll(async () => {
    await app.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('three concurrent requests with a cap of two share two connections', async () => {
    let seen = 0;
    const allIn = new Promise<void>((r) => app.server.server('http')!.on('request', () => ++seen === 3 && r()));
    const twoHeld = new Promise<void>((r) => (onHeld = () => held.length >= 2 && r()));
    const replies = [1, 2, 3].map((i) => request(app.port, { path: `/r${i}` }));
    await Promise.all([allIn, twoHeld]);
    onHeld = () => held.splice(0).forEach((res) => res.end('ok'));
    onHeld();
    expect((await Promise.all(replies)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(connections).toBe(2);
  });

  it('a request waiting for a connection of a full pool gets 504 within the entry timeout, not never', async () => {
    // One connection, held by a response that has sent its headers and streams on (a long download).
    const streaming = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first bytes');
    });
    await new Promise<void>((r) => streaming.listen(0, '127.0.0.1', r));
    const one = await appServer([upstreamEntry('/', `http://127.0.0.1:${(streaming.address() as { port: number }).port}`, { auth: 'none', timeout: 300 })], { upstreamConnections: 1 });
    try {
      const first = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port: one.port, path: '/download' }, resolve).on('error', reject));
      expect(first.statusCode).toBe(200);
      const second = await request(one.port, { path: '/next' });
      expect(second).toMatchObject({ status: 504, body: { error: 'Gateway timeout' } });
      first.destroy();
    } finally {
      await one.close();
      streaming.closeAllConnections();
      await new Promise((r) => streaming.close(r));
    }
  });
});
