import http from 'node:http';
import https from 'node:https';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CLI, spawnCli, kill9, type Child } from '../reliability/harness.js';
import { freePort, tempRoot } from '../helpers/run.js';

export const ADMIN = 'admin:admin-pw';

export interface Cluster {
  root: string;
  child: Child;
  ports: { http: number; https: number; ops: number };
  /** Stops with SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  cleanup(): Promise<void>;
  log(): string;
}

/** Starts `harper-tls start` as a real process with `threads.count` workers and waits until all serve. */
export async function startCluster(opts: { count?: number; yaml?: (p: Cluster['ports'], root: string) => string[]; logging?: (root: string) => string[] } = {}): Promise<Cluster> {
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built: run pnpm build first`);
  const count = opts.count ?? 2;
  const { root, cleanup } = tempRoot();
  const ports = { http: await freePort(), https: await freePort(), ops: await freePort() };
  mkdirSync(root, { recursive: true });
  const yaml = opts.yaml?.(ports, root) ?? [
    'http:',
    `  port: ${ports.http}`,
    `  securePort: ${ports.https}`,
    '  mtls:',
    '    required: false',
    '    certificateVerification: true',
    'operationsApi:',
    '  network:',
    `    port: ${ports.ops}`,
  ];
  writeFileSync(join(root, 'harperdb-config.yaml'), [...yaml, 'threads:', `  count: ${count}`, ...(opts.logging?.(root) ?? ['logging:', '  level: info']), ''].join('\n'));
  const child = spawnCli(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw', THREADS_COUNT: String(count) });
  await child.waitFor(`serving with ${count} workers`, 60_000);
  const c: Cluster = {
    root,
    child,
    ports,
    async stop() {
      if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGTERM');
      return (await child.exited).code;
    },
    async cleanup() {
      const killer = setTimeout(() => void kill9(child), 15_000);
      await c.stop();
      clearTimeout(killer);
      cleanup();
    },
    log: () => {
      const f = join(root, 'log', 'hdb.log');
      return existsSync(f) ? readFileSync(f, 'utf8') : '';
    },
  };
  return c;
}

export interface Reply {
  status: number;
  body: any;
  socketReused?: boolean;
}

/** One request on a new connection (no agent, no session cache: a full TLS handshake). */
export function fresh(opts: { port: number; path?: string; method?: string; tls?: https.RequestOptions; auth?: string; body?: unknown; session?: Buffer }): Promise<Reply & { session?: Buffer; reused?: boolean }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { connection: 'close' };
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    if (body) headers['content-type'] = 'application/json';
    const common = { host: '127.0.0.1', port: opts.port, path: opts.path ?? '/', method: opts.method ?? (body ? 'POST' : 'GET'), headers, agent: false as const };
    let session: Buffer | undefined;
    let reused: boolean | undefined;
    const req = opts.tls
      ? https.request({ ...common, servername: 'localhost', rejectUnauthorized: false, ...opts.tls, ...(opts.session ? { session: opts.session } : {}) })
      : http.request(common);
    req.on('socket', (s) => {
      s.on('session', (sess: Buffer) => (session = sess));
      s.on('secureConnect', () => (reused = (s as import('node:tls').TLSSocket).isSessionReused()));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        // TLS 1.3 tickets arrive after the handshake: wait for the socket to close to have them.
        const done = () => resolve({ status: res.statusCode ?? 0, body: parsed, session, reused });
        if (req.socket && !req.socket.destroyed) req.socket.once('close', done);
        else done();
      });
    });
    req.end(body);
  });
}

/** An Operations API call on a fresh connection. */
export function op(c: Cluster, body: Record<string, unknown>, auth = ADMIN): Promise<Reply> {
  return fresh({ port: c.ports.ops, body, auth });
}

/** `harper_tls_http_requests_total` by listener and worker, read from the aggregated /metrics. */
export async function requestsByWorker(c: Cluster, listener: string): Promise<Record<string, number>> {
  const r = await fresh({ port: c.ports.ops, path: '/metrics', auth: ADMIN });
  expect(r.status).toBe(200);
  const out: Record<string, number> = {};
  for (const m of String(r.body).matchAll(/^harper_tls_http_requests_total\{listener="([^"]+)",worker="(\d+)"\} (\d+)/gm)) {
    if (m[1] === listener) out[m[2]!] = Number(m[3]);
  }
  return out;
}

/**
 * Runs `n` fresh requests (a few at a time) and checks that every worker served some of them:
 * the `worker` label of harper_tls_http_requests_total must grow for each of `count` workers.
 */
export async function spread<T>(c: Cluster, listener: string, n: number, one: (i: number) => Promise<T>, count = 2): Promise<T[]> {
  const before = await requestsByWorker(c, listener);
  const results: T[] = [];
  for (let i = 0; i < n; i += 4) results.push(...(await Promise.all(Array.from({ length: Math.min(4, n - i) }, (_, k) => one(i + k)))));
  const after = await requestsByWorker(c, listener);
  for (let w = 0; w < count; w++) {
    const served = (after[String(w)] ?? 0) - (before[String(w)] ?? 0);
    expect(served, `worker ${w} served ${served} of ${n} requests (before ${JSON.stringify(before)}, after ${JSON.stringify(after)})`).toBeGreaterThan(0);
  }
  return results;
}

/** Waits (bounded) until `cond` holds. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
