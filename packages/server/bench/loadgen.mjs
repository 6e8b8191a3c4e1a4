// A bounded TLS load generator, run as a child process so it never shares an event loop with
// the server it measures. Modes:
//   handshake: every request is a new TLS connection (no session resumption), one GET, close.
//   keepalive: `concurrency` persistent connections, requests back to back.
// Prints one JSON line: { completed, failed, seconds, perSecond, p50, p99 } (latencies in ms).
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const [, , configJson] = process.argv;
const cfg = JSON.parse(configJson);
const ca = readFileSync(cfg.ca);
const cert = cfg.cert ? readFileSync(cfg.cert) : undefined;
const key = cfg.key ? readFileSync(cfg.key) : undefined;
const request = `GET ${cfg.path} HTTP/1.1\r\nHost: localhost\r\n${cfg.headers ?? ''}Connection: ${cfg.mode === 'keepalive' ? 'keep-alive' : 'close'}\r\n\r\n`;
const deadline = performance.now() + cfg.seconds * 1000;
const latencies = [];
let completed = 0;
let failed = 0;

function connect() {
  return tls.connect({ host: '127.0.0.1', port: cfg.port, ca, cert, key, servername: 'localhost', session: undefined, minVersion: cfg.tlsVersion, maxVersion: cfg.tlsVersion });
}

// Reads one HTTP/1.1 response with a Content-Length body from a socket.
function readResponse(socket) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const m = /content-length:\s*(\d+)/i.exec(buf.slice(0, end));
      const len = m ? Number(m[1]) : 0;
      if (buf.length >= end + 4 + len) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(Number(buf.slice(9, 12)));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed')));
  });
}

async function handshakeWorker() {
  while (performance.now() < deadline) {
    const t0 = performance.now();
    const socket = connect();
    try {
      await new Promise((res, rej) => {
        socket.once('secureConnect', res);
        socket.once('error', rej);
      });
      socket.write(request);
      const status = await readResponse(socket);
      if (status === cfg.expectStatus) {
        completed++;
        latencies.push(performance.now() - t0);
      } else failed++;
    } catch {
      failed++;
    } finally {
      socket.destroy();
    }
  }
}

async function keepAliveWorker() {
  let socket;
  while (performance.now() < deadline) {
    if (!socket) {
      socket = connect();
      await new Promise((res, rej) => {
        socket.once('secureConnect', res);
        socket.once('error', rej);
      }).catch(() => {
        failed++;
        socket = undefined;
      });
      if (!socket) continue;
      socket.setMaxListeners(0);
    }
    const t0 = performance.now();
    socket.write(request);
    try {
      const status = await readResponse(socket);
      if (status === cfg.expectStatus) {
        completed++;
        latencies.push(performance.now() - t0);
      } else failed++;
    } catch {
      failed++;
      socket.destroy();
      socket = undefined;
    }
  }
  socket?.destroy();
}

const worker = cfg.mode === 'keepalive' ? keepAliveWorker : handshakeWorker;
const t0 = performance.now();
await Promise.all(Array.from({ length: cfg.concurrency }, worker));
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 100) / 100 : null);
process.stdout.write(JSON.stringify({ completed, failed, seconds, perSecond: Math.round(completed / seconds), p50: pct(0.5), p99: pct(0.99) }) + '\n');
