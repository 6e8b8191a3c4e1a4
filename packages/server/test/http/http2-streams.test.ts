import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import type { ServerResponse } from 'node:http';
import { createCA, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import { HarperServer, type AuthOutcome } from '../../src/server.js';
import { TlsContextSet } from '../../src/tls/context-set.js';
import { buildEntry } from '../../src/tls/material.js';
import { memoryLogger } from '../helpers/logger.js';

const authenticate = async (): Promise<AuthOutcome> => ({ ok: false, status: 401, error: 'Login failed' });

/** An `http.http2` listener bounds what one session may hold: concurrent streams, and how long a stream may stall. */
describe('HTTP/2 sessions: concurrent streams and stalled streams', () => {
  let ca: KeyAndCert;
  let server: HarperServer;
  let port: number;
  const held: ServerResponse[] = [];
  let onHeld: (() => void) | undefined;

  beforeAll(async () => {
    ca = await createCA({ commonName: 'H2 CA', days: 10 });
    const leaf = await issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost'], days: 10 });
    const contexts = new TlsContextSet({ entries: [buildEntry({ certPem: leaf.certificatePem, keyPem: leaf.privateKeyPem, name: 'tls' })], defaultIndex: 0 }, 'https');
    server = new HarperServer({
      logger: memoryLogger('warn').logger,
      host: '127.0.0.1',
      closeGraceMs: 100,
      listeners: [{ name: 'https', api: 'app', port: 0, authenticate, http2: true, tls: { contexts, mtls: false }, limits: { timeout: 3000 } }],
      operations: [],
      appRoutes: [
        (_req, res, url) => {
          if (url.pathname !== '/hold') return false;
          held.push(res);
          onHeld?.();
          return true;
        },
      ],
    });
    port = (await server.listen())[0]!.port;
  });
  afterAll(() => server.close());

  const connect = (opts: http2.SecureClientSessionOptions = {}) => http2.connect(`https://localhost:${port}`, { ca: ca.certificatePem, host: '127.0.0.1', ...opts });

  it('SETTINGS advertise 100 concurrent streams; streams beyond are refused (REFUSED_STREAM)', async () => {
    // The client ignores the limit until the server's SETTINGS arrive: all 150 go out at once.
    const session = connect({ peerMaxConcurrentStreams: 1000 });
    session.on('error', () => {});
    const settings = new Promise<http2.Settings>((r) => session.once('remoteSettings', r));
    const codes = await new Promise<number[]>((resolve) => {
      const out: number[] = [];
      let closed = 0;
      let first100 = false;
      const check = () => {
        // 100 held by the route and every other stream closed: the refused ones.
        if (!first100 && held.length >= 100 && closed === 50) (first100 = true), resolve(out);
      };
      onHeld = check;
      for (let i = 0; i < 150; i++) {
        const s = session.request({ ':path': '/hold' });
        s.on('error', () => {});
        s.on('close', () => {
          if (s.rstCode) out.push(s.rstCode);
          closed++;
          check();
        });
        s.end();
      }
    });
    expect((await settings).maxConcurrentStreams).toBe(100);
    expect(held.length).toBe(100);
    expect(codes.length).toBe(50);
    expect(new Set(codes)).toEqual(new Set([http2.constants.NGHTTP2_REFUSED_STREAM]));
    for (const res of held.splice(0)) res.end();
    onHeld = undefined;
    await new Promise<void>((r) => session.close(() => r()));
  });

  it('a stalled stream is reset after the timeout while the session lives on', async () => {
    const session = connect();
    session.on('error', () => {});
    // Other requests keep the session active: only the one stream stalls.
    const pinger = setInterval(() => {
      const r = session.request({ ':path': '/health' });
      r.on('error', () => {});
      r.resume();
    }, 100);
    try {
      const s = session.request({ ':path': '/hold' });
      s.on('error', () => {});
      const rst = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('stream not reset within 10 s')), 10_000);
        s.once('close', () => (clearTimeout(t), resolve(s.rstCode)));
        s.end();
      });
      expect(rst).toBe(http2.constants.NGHTTP2_CANCEL);
      expect(session.destroyed).toBe(false);
      const again = session.request({ ':path': '/health' });
      const status = await new Promise<number>((r) => again.once('response', (h) => r(Number(h[':status']))));
      again.resume();
      expect(status).toBe(200);
    } finally {
      clearInterval(pinger);
      held.splice(0);
      session.destroy();
    }
  });
});
