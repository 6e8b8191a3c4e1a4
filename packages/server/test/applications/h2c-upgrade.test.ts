import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { appServer, moduleDir, moduleEntry, request } from '../helpers/apps.js';

/**
 * A non-WebSocket upgrade (`Upgrade: h2c`) is answered as the HTTP/1.1 request it also is. Node
 * takes its own 'error' listener off an upgraded socket: a client that resets the connection
 * while the request is handled must not crash the process when the answer is written.
 */
describe('h2c upgrade requests on the application listener', () => {
  const files = moduleDir();
  const hooks = globalThis as unknown as { __h2cEntered?: () => void; __h2cRelease?: Promise<void> };
  let app: Awaited<ReturnType<typeof appServer>>;

  beforeAll(async () => {
    const file = files.write('held.mjs', 'export default async (req, res) => { globalThis.__h2cEntered(); await globalThis.__h2cRelease; res.writeHead(200, { "content-type": "text/plain" }); res.end("late answer ".repeat(1000)); };\n');
    app = await appServer([moduleEntry('/app', file, { auth: 'none' })]);
  });
  afterAll(async () => {
    await app.close();
    files.cleanup();
  });

  it('a client that resets the connection mid-request leaves the server serving', async () => {
    let entered!: () => void;
    const inModule = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    hooks.__h2cEntered = entered;
    hooks.__h2cRelease = new Promise<void>((r) => (release = r));
    const upgraded = new Promise<Socket>((r) => app.server.server('http')!.once('upgrade', (_req, socket: Socket) => r(socket)));
    const client = connect({ host: '127.0.0.1', port: app.port });
    await new Promise<void>((r) => client.once('connect', r));
    client.write('GET /app HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
    const serverSide = await upgraded;
    await inModule;
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.resetAndDestroy();
    await closed;
    const serverClosed = new Promise<void>((r) => serverSide.once('close', () => r()));
    release();
    await serverClosed;
    expect((await request(app.port, { path: '/health' })).status).toBe(200);
    expect(app.errors()).toEqual([]);
  });

  it('a well-behaved h2c client still gets its answer and the connection is closed', async () => {
    hooks.__h2cEntered = () => {};
    hooks.__h2cRelease = Promise.resolve();
    const client = connect({ host: '127.0.0.1', port: app.port });
    client.write('GET /app HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    let text = '';
    client.setEncoding('latin1');
    client.on('data', (c) => (text += c));
    await new Promise<void>((r, j) => (client.once('close', () => r()), client.once('error', j)));
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('late answer');
  });
});
