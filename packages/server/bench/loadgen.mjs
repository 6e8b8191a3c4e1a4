// A bounded TLS load generator, run as a child process so it never shares an event loop with
// the server it measures. Modes:
//   handshake: every request is a new TLS connection (no session resumption: no `session` is
//              ever passed, so each connection is a full handshake), one GET, close.
//   keepalive: `concurrency` persistent connections, requests back to back.
//   burst:     exactly `count` connections opened at once (one GET each), then exit.
// Client certificates: `cert`/`key`, or `certs` (a list of {cert, key}) used in turn.
// TCP_NODELAY is set on every socket (otherwise Nagle + delayed ACK add ~40 ms per request).
// Prints one JSON line: { completed, failed, seconds, perSecond, p50, p99, firstError } (ms).
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const [, , configJson] = process.argv;
const cfg = JSON.parse(configJson);
const ca = readFileSync(cfg.ca);
const identities = (cfg.certs ?? (cfg.cert ? [{ cert: cfg.cert, key: cfg.key }] : [{}])).map((c) => ({ cert: c.cert && readFileSync(c.cert), key: c.key && readFileSync(c.key) }));
const request = `GET ${cfg.path} HTTP/1.1\r\nHost: ${cfg.servername ?? 'localhost'}\r\n${cfg.headers ?? ''}Connection: ${cfg.mode === 'keepalive' ? 'keep-alive' : 'close'}\r\n\r\n`;
const seconds = Math.min(Number(cfg.seconds ?? 3), 60);
const deadline = performance.now() + seconds * 1000;
const latencies = [];
let completed = 0;
let failed = 0;
let firstError;
let next = 0;

function connect() {
  const id = identities[next++ % identities.length];
  const socket = tls.connect({ host: '127.0.0.1', port: cfg.port, ca, cert: id.cert, key: id.key, servername: cfg.servername ?? 'localhost', minVersion: cfg.tlsVersion, maxVersion: cfg.tlsVersion });
  socket.setNoDelay(true);
  return socket;
}

function fail(err) {
  failed++;
  firstError ??= String(err?.message ?? err);
}

// Reads one HTTP/1.1 response with a Content-Length body from a socket.
function readResponse(socket) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onError = (e) => (cleanup(), reject(e));
    const onClose = () => (cleanup(), reject(new Error('closed before a response')));
    const onData = (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const m = /content-length:\s*(\d+)/i.exec(buf.slice(0, end));
      const len = m ? Number(m[1]) : 0;
      if (buf.length >= end + 4 + len) {
        cleanup();
        resolve({ status: Number(buf.slice(9, 12)), body: buf.slice(end + 4) });
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

async function oneConnection() {
  const t0 = performance.now();
  const socket = connect();
  try {
    await new Promise((res, rej) => {
      socket.once('secureConnect', res);
      socket.once('error', rej);
    });
    socket.write(request);
    const { status, body } = await readResponse(socket);
    if (status === cfg.expectStatus) {
      completed++;
      latencies.push(performance.now() - t0);
    } else fail(`status ${status}: ${body.slice(0, 120)}`);
  } catch (err) {
    fail(err);
  } finally {
    socket.destroy();
  }
}

async function handshakeWorker() {
  while (performance.now() < deadline) await oneConnection();
}

async function keepAliveWorker() {
  let socket;
  while (performance.now() < deadline) {
    if (!socket) {
      socket = connect();
      const ok = await new Promise((res) => {
        socket.once('secureConnect', () => res(true));
        socket.once('error', (e) => (fail(e), res(false)));
      });
      if (!ok) {
        socket.destroy();
        socket = undefined;
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
    }
    const t0 = performance.now();
    socket.write(request);
    try {
      const { status, body } = await readResponse(socket);
      if (status === cfg.expectStatus) {
        completed++;
        latencies.push(performance.now() - t0);
      } else fail(`status ${status}: ${body.slice(0, 120)}`);
    } catch (err) {
      fail(err);
      socket.destroy();
      socket = undefined;
    }
  }
  socket?.destroy();
}

const t0 = performance.now();
if (cfg.mode === 'burst') {
  const timeout = setTimeout(() => {
    process.stdout.write(JSON.stringify({ completed, failed, timedOut: true }) + '\n');
    process.exit(2);
  }, 60_000);
  await Promise.all(Array.from({ length: cfg.count }, oneConnection));
  clearTimeout(timeout);
} else {
  const worker = cfg.mode === 'keepalive' ? keepAliveWorker : handshakeWorker;
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
}
const elapsed = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 100) / 100 : null);
process.stdout.write(JSON.stringify({ completed, failed, seconds: Math.round(elapsed * 100) / 100, perSecond: Math.round(completed / elapsed), p50: pct(0.5), p99: pct(0.99), max: pct(1), firstError }) + '\n');
