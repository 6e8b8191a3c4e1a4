import { Writable } from 'node:stream';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@harper-tls/config';
import { createLogger, startHarper, type HarperInstance } from '@harper-tls/server';
import { freePort } from './run.js';

/** Starts the server in this process with the given YAML, JSON logs kept in memory. */
export async function startWithYaml(root: string, yaml: (ports: Ports) => string[]): Promise<{ instance: HarperInstance; ports: Ports; logs: string[] }> {
  const ports = { https: await freePort(), ops: await freePort(), opsSecure: await freePort() };
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'harperdb-config.yaml'), [...yaml(ports), ''].join('\n'));
  const { config } = await loadConfig({ root, env: {}, homedir: root, overrides: [] });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _e, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const instance = await startHarper({ config, logger, host: '127.0.0.1', admin: { username: 'admin', password: 'admin-pw' } });
  return { instance, ports, logs };
}
export interface Ports {
  https: number;
  ops: number;
  opsSecure: number;
}

/** One fresh handshake (no session: never resumed); resolves with the served leaf's fingerprint. */
export function handshake(port: number, servername: string | undefined, extra: tls.ConnectionOptions = {}): Promise<{ fingerprint: string; cn: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false, ...extra }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      if (!peer) return reject(new Error('no peer certificate'));
      resolve({ fingerprint: (peer as X509Certificate).fingerprint256, cn: /CN=([^\n]*)/.exec(peer.subject)?.[1] ?? '', socket });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timeout')));
    socket.once('error', reject);
  });
}

export async function operation(port: number, body: Record<string, unknown>, auth = 'admin:admin-pw'): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, text };
}
