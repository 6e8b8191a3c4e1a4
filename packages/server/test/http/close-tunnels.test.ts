import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createCA, issueCertificate } from '@harper-tls/cert-gen';
import { TlsContextSet } from '../../src/tls/context-set.js';
import { buildEntry } from '../../src/tls/material.js';
import { appServer, upstreamEntry } from '../helpers/apps.js';

/** Resolves when `p` does, rejects after `ms` (a hang is the failure being tested). */
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_r, j) => void setTimeout(() => j(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

/**
 * Sockets Node's connection list does not hold (WebSocket tunnels, TLS handshakes in progress)
 * must not keep close() waiting past its grace period, and an idle tunnel is closed.
 */
describe('close() and idle timeouts with WebSocket tunnels and half-open handshakes', () => {
  let wss: WebSocketServer;
  let origin: string;

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
    await new Promise<void>((r) => wss.once('listening', r));
    origin = `http://127.0.0.1:${(wss.address() as net.AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => wss.close(() => r())));

  const openSocket = async (port: number) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.on('error', () => {});
    await new Promise<void>((r, j) => (ws.once('open', () => r()), ws.once('error', j)));
    const echoed = new Promise<string>((r) => ws.once('message', (m) => r(String(m))));
    ws.send('ping');
    expect(await echoed).toBe('ping');
    return ws;
  };

  it('close() ends an open WebSocket tunnel when the grace period is over', async () => {
    const app = await appServer([upstreamEntry('/ws', origin, { auth: 'none' })], { server: { closeGraceMs: 200 } });
    const ws = await openSocket(app.port);
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await within(app.close(), 10_000, 'close()');
    await within(closed, 10_000, 'the client socket closing');
  });

  it('an idle tunnel is closed after `timeout`', async () => {
    const app = await appServer([upstreamEntry('/ws', origin, { auth: 'none' })], { plan: { limits: { timeout: 300 } } });
    try {
      const ws = await openSocket(app.port);
      await within(new Promise<void>((r) => ws.once('close', () => r())), 10_000, 'the idle tunnel closing');
    } finally {
      await app.close();
    }
  });

  it('close() ends a connection stuck in its TLS handshake when the grace period is over', async () => {
    const ca = await createCA({ commonName: 'Close CA', days: 10 });
    const leaf = await issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost'], days: 10 });
    const contexts = new TlsContextSet({ entries: [buildEntry({ certPem: leaf.certificatePem, keyPem: leaf.privateKeyPem, name: 'tls' })], defaultIndex: 0 }, 'https');
    for (const http2 of [false, true]) {
      const app = await appServer([], { plan: { name: 'https', tls: { contexts, mtls: false }, http2 }, server: { closeGraceMs: 200 } });
      const accepted = new Promise<void>((r) => app.server.server('https')!.once('connection', () => r()));
      const raw = net.connect({ host: '127.0.0.1', port: app.port });
      raw.on('error', () => {});
      await accepted; // the server holds the socket; no ClientHello is ever sent
      const closed = new Promise<void>((r) => raw.once('close', () => r()));
      await within(app.close(), 10_000, `close() (http2: ${http2})`);
      await within(closed, 10_000, 'the raw socket closing');
    }
  });
});
