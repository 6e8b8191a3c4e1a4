import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApplicationConfig, ModuleApplication, UpstreamApplication } from '@harper-tls/config';
import { HarperServer, type AuthOutcome, type HarperServerOptions, type ListenerPlan } from '../../src/server.js';
import { createApplications } from '../../src/applications/router.js';
import { memoryLogger } from './logger.js';

const where = { key: 'applications[0]', source: 'file' as const };

/** An upstream entry as the configuration would give it. */
export function upstreamEntry(path: string, origin: string, extra: Partial<UpstreamApplication> = {}): UpstreamApplication {
  return { kind: 'upstream', path, origin, basePath: '', timeout: 10_000, auth: 'required', stripPrefix: false, identityHeaders: { certificate: false }, where, ...extra };
}

/** A module entry for a file written to a temporary folder. */
export function moduleEntry(path: string, file: string, extra: Partial<ModuleApplication> = {}): ModuleApplication {
  return { kind: 'module', path, module: file, modulePath: file, auth: 'required', stripPrefix: false, where, moduleWhere: where, ...extra };
}

/** "Authorization: let-me-in" is admin (super_user); anything else is refused. */
export const testAuthenticate = async (req: http.IncomingMessage): Promise<AuthOutcome> =>
  req.headers.authorization === 'let-me-in' ? { ok: true, user: { username: 'admin', role: 'super_user' }, method: 'basic' } : { ok: false, status: 401, error: 'Login failed', reason: 'test' };

/** A folder for module files; `write` returns the file's path. */
export function moduleDir() {
  const dir = mkdtempSync(join(tmpdir(), 'harper-apps-'));
  return { write: (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name)), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An upstream that answers every request with what it received (method, url, headers). */
export async function echoUpstream(): Promise<{ origin: string; server: http.Server; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { origin: `http://127.0.0.1:${port}`, server, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

/** A HarperServer with one plain application listener serving `apps`. */
export async function appServer(apps: ApplicationConfig[], opts: { plan?: Partial<ListenerPlan>; server?: Partial<HarperServerOptions>; upstreamConnections?: number } = {}) {
  const { logger, lines } = memoryLogger();
  const applications = await createApplications(apps, { rootPath: tmpdir(), serverCas: [], logger, upstreamConnections: opts.upstreamConnections });
  const server = new HarperServer({
    logger,
    host: '127.0.0.1',
    listeners: [{ name: 'http', api: 'app', port: 0, authenticate: testAuthenticate, ...opts.plan }],
    operations: [],
    applications,
    ...opts.server,
  });
  const info = await server.listen();
  return {
    server,
    port: info[0]!.port,
    lines,
    errors: () => lines.filter((l) => Number(l.level) >= 50),
    close: async () => {
      await server.close();
      await applications.close();
    },
  };
}

export { request } from './request.js';
