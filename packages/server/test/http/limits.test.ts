import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import https from 'node:https';
import http from 'node:http';
import { createCA, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';
import type { ListenerLimits } from '@harper-tls/config';
import { HarperServer, type AuthOutcome, type ListenerPlan } from '../../src/server.js';
import { TlsContextSet } from '../../src/tls/context-set.js';
import { buildEntry } from '../../src/tls/material.js';
import { memoryLogger } from '../helpers/logger.js';

const authenticate = async (): Promise<AuthOutcome> => ({ ok: false, status: 401, error: 'Login failed' });
let ca: KeyAndCert;
let contexts: TlsContextSet;
const servers: HarperServer[] = [];

beforeAll(async () => {
  ca = await createCA({ commonName: 'Limits CA', days: 10 });
  const leaf = await issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost'], days: 10 });
  contexts = new TlsContextSet({ entries: [buildEntry({ certPem: leaf.certificatePem, keyPem: leaf.privateKeyPem, name: 'tls' })], defaultIndex: 0 }, 'https');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A plain and a secure application listener with these limits; returns their ports. */
async function start(limits: ListenerLimits): Promise<{ plain: number; secure: number }> {
  const listeners: ListenerPlan[] = [
    { name: 'http', api: 'app', port: 0, authenticate, limits },
    { name: 'https', api: 'app', port: 0, authenticate, limits, tls: { contexts, mtls: false } },
  ];
  const server = new HarperServer({ logger: memoryLogger('warn').logger, host: '127.0.0.1', listeners, operations: [], closeGraceMs: 100 });
  servers.push(server);
  const info = await server.listen();
  return { plain: info[0]!.port, secure: info[1]!.port };
}

function connect(port: number, secure: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = secure ? tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certificatePem, ALPNProtocols: ['http/1.1'] }) : net.connect({ host: '127.0.0.1', port });
    s.once(secure ? 'secureConnect' : 'connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the ms until the server closes `socket` (and what it sent), or rejects after `limitMs`. */
function closedWithin(socket: net.Socket, limitMs: number, from = Date.now()): Promise<{ ms: number; received: string }> {
  let received = '';
  socket.on('data', (d) => (received += d));
  socket.on('error', () => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${limitMs} ms`)), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - from, received });
    });
  });
}

describe.each([
  ['plain HTTP', false],
  ['HTTPS (HTTP/1.1)', true],
] as const)('listener limits on %s', (_name, secure) => {
  let ports: { plain: number; secure: number };
  let big: { plain: number; secure: number };
  beforeAll(async () => {
    ports = await start({ headersTimeout: 1500, keepAliveTimeout: 1000, timeout: 120_000, maxHeaderSize: 4096 });
    big = await start({ timeout: 1000, headersTimeout: 20_000, maxHeaderSize: 32_768 });
  });
  const port = (p: { plain: number; secure: number }) => (secure ? p.secure : p.plain);

  it('slowloris: a client sending one header byte at a time is cut off by headersTimeout (1500 ms)', async () => {
    const socket = await connect(port(ports), secure);
    const t0 = Date.now();
    socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    // One byte every 100 ms: never idle long enough for `timeout`, never done with the headers.
    const drip = setInterval(() => socket.writable && socket.write('a'), 100);
    try {
      // Closed by the server well before `timeout` (120 s) could: headersTimeout did it. No upper
      // bound tighter than the client's guard: a busy machine may fire the check late.
      const { ms, received } = await closedWithin(socket, 15_000, t0);
      expect(ms).toBeGreaterThanOrEqual(1400);
      if (received) expect(received).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
    }
  });

  it('keepAliveTimeout (1000 ms) closes an idle keep-alive connection after its response', async () => {
    const socket = await connect(port(ports), secure);
    let text = '';
    const answered = new Promise<number>((resolve) =>
      socket.on('data', (d) => {
        text += d;
        if (text.includes('{"status":"ok"}')) resolve(Date.now());
      }),
    );
    const closed = closedWithin(socket, 15_000); // long before `timeout` (120 s)
    socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const at = await answered;
    await closed;
    const idle = Date.now() - at;
    expect(text).toContain('keep-alive');
    expect(idle).toBeGreaterThanOrEqual(900);
  });

  it('timeout (1000 ms) closes a connection that goes silent', async () => {
    const socket = await connect(port(big), secure);
    socket.write('GET /health HTTP/1.1\r\n');
    const { ms } = await closedWithin(socket, 15_000); // before headersTimeout (20 s) could
    expect(ms).toBeGreaterThanOrEqual(900);
  });

  it('maxHeaderSize: larger header blocks get 431, smaller ones are served', async () => {
    const get = (p: number, headerBytes: number) =>
      new Promise<number>((resolve, reject) => {
        const opts = { host: '127.0.0.1', port: p, path: '/health', headers: { 'x-big': 'b'.repeat(headerBytes) }, agent: false };
        const req = secure ? https.get({ ...opts, servername: 'localhost', ca: ca.certificatePem }, (res) => resolve(res.statusCode!)) : http.get(opts, (res) => resolve(res.statusCode!));
        req.on('error', reject);
      });
    expect(await get(port(ports), 8_000)).toBe(431); // over the configured 4096
    expect(await get(port(ports), 2_000)).toBe(200);
    expect(await get(port(big), 20_000)).toBe(200); // over Node's 16384, under the configured 32768
  });
});

describe('planListeners carries each API its own limits, CORS and http2', () => {
  it('application and Operations API keys go to their own listeners; http2 only to the application HTTPS listener', async () => {
    const { loadConfig } = await import('@harper-tls/config');
    const { planListeners } = await import('../../src/server.js');
    const { config } = await loadConfig({
      root: '/nonexistent-root',
      env: {},
      createIfMissing: false,
      overrides: ['--HTTP_SECUREPORT', '9001', '--HTTP_HTTP2', 'true', '--HTTP_HEADERSTIMEOUT', '1500', '--OPERATIONSAPI_NETWORK_SECUREPORT', '9002', '--OPERATIONSAPI_NETWORK_KEEPALIVETIMEOUT', '7000', '--OPERATIONSAPI_NETWORK_CORS', 'true'],
    });
    const plans = planListeners(config, { appContexts: contexts, operationsContexts: contexts, authenticate: () => authenticate });
    const by = Object.fromEntries(plans.map((p) => [p.name, p]));
    expect(by.https!.http2).toBe(true);
    expect(by['operations-secure']!.http2).toBeUndefined();
    expect(by.http!.limits).toMatchObject({ headersTimeout: 1500, timeout: 120_000 });
    expect(by.operations!.limits).toMatchObject({ keepAliveTimeout: 7000, headersTimeout: undefined });
    expect(by.http!.cors).toBeUndefined();
    expect(by['operations-secure']!.cors).toMatchObject({ anyOrigin: true });
  });
});
