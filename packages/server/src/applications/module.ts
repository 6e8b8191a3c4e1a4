import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { ConfigError, type ModuleApplication } from '@harper-tls/config';
import type { ClientCertificate } from './identity.js';

/** What a module sees of the request's verified identity (SPEC.md section 6). */
export interface ModuleContext {
  user: { username: string; role: string; authenticatedBy: string } | null;
  clientCertificate: ClientCertificate | null;
  /** The client address as harper-tls believes it. */
  remoteAddress: string;
  requestId: string;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;
type FetchHandler = (request: Request, context: ModuleContext) => Response | Promise<Response>;

/** A loaded application module: a Node request listener or a WHATWG fetch handler, and its optional close(). */
export interface LoadedModule {
  kind: 'listener' | 'fetch';
  listener?: Listener;
  fetch?: FetchHandler;
  close?: () => unknown;
}

function issue(app: ModuleApplication, message: string): ConfigError {
  return new ConfigError([{ ...app.moduleWhere, value: app.module, message }]);
}

/** A package's ES entry point when `require.resolve` refuses it (an `exports` map with `import` only). */
function resolveEsmPackage(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name);
    const pkgFile = join(pkgDir, 'package.json');
    if (existsSync(pkgFile)) {
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: unknown; module?: string; main?: string };
      let entry: unknown = pkg.exports;
      if (entry && typeof entry === 'object' && '.' in (entry as object)) entry = (entry as Record<string, unknown>)['.'];
      while (entry && typeof entry === 'object') {
        const e = entry as Record<string, unknown>;
        entry = e.import ?? e.node ?? e.default;
      }
      return join(pkgDir, typeof entry === 'string' ? entry : (pkg.module ?? pkg.main ?? 'index.js'));
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function resolveModule(app: ModuleApplication, rootPath: string): string {
  if (app.modulePath) return app.modulePath;
  try {
    return createRequire(join(rootPath, 'package.json')).resolve(app.module);
  } catch {
    const esm = resolveEsmPackage(app.module, rootPath);
    if (esm && existsSync(esm)) return esm;
    throw issue(app, `the package "${app.module}" is not installed where ROOTPATH (${rootPath}) can find it (node_modules of ROOTPATH or a parent)`);
  }
}

/**
 * Imports an application module and checks its exports: `default` a request listener (or an
 * object with `fetch`), or a named `fetch`. A module that fails to import or exports neither is
 * a configuration error naming the entry's key, file and line.
 */
export async function loadModule(app: ModuleApplication, rootPath: string): Promise<LoadedModule> {
  const file = resolveModule(app, rootPath);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw issue(app, `the module ${file} failed to load: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`);
  }
  const def = mod.default as unknown;
  const close = typeof mod.close === 'function' ? (mod.close as () => unknown) : undefined;
  if (typeof mod.fetch === 'function') return { kind: 'fetch', fetch: mod.fetch as FetchHandler, close };
  if (def && typeof def === 'object' && typeof (def as { fetch?: unknown }).fetch === 'function') {
    const obj = def as { fetch: FetchHandler; close?: () => unknown };
    return { kind: 'fetch', fetch: obj.fetch.bind(obj), close: close ?? (typeof obj.close === 'function' ? obj.close.bind(obj) : undefined) };
  }
  if (typeof def === 'function') return { kind: 'listener', listener: def as Listener, close };
  throw issue(app, `the module ${file} exports neither a default request listener ((req, res) => ...) nor fetch(request, context)`);
}

/** Runs a request listener; a rejection (async handlers) is the caller's 500. */
export async function runListener(mod: LoadedModule, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await mod.listener!(req, res);
}

/**
 * Runs a fetch handler and writes its Response, body streamed. No `signal` on the Request: an
 * AbortSignal costs ~16 µs per request in Node 20 (more than the rest of the Request); a client
 * that goes away cancels the request body and the response reader instead.
 */
export async function runFetch(mod: LoadedModule, req: IncomingMessage, res: ServerResponse, url: string, headers: readonly string[], ctx: ModuleContext): Promise<void> {
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers: pairs(headers) };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(req) as unknown as ReadableStream;
    init.duplex = 'half';
  }
  const response = await mod.fetch!(new Request(url, init), ctx);
  if (!(response instanceof Response)) throw new TypeError('fetch() did not return a Response');
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => {
    if (k !== 'set-cookie') out[k] = v;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) out['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText || undefined, out);
  if (!response.body || method === 'HEAD') return void res.end();
  // A reader loop costs far less per request than Readable.fromWeb + pipeline; backpressure by 'drain'.
  const reader = response.body.getReader();
  const onClose = () => void reader.cancel().catch(() => {});
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) await new Promise<void>((resolve) => {
        const go = () => (res.off('drain', go), res.off('close', go), resolve());
        res.once('drain', go);
        res.once('close', go);
      });
    }
    res.end();
  } finally {
    res.off('close', onClose);
  }
}

function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i]!.toLowerCase() !== 'host') out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
