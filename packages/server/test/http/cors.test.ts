import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CorsConfig } from '@harper-tls/config';
import { HarperServer, type AuthOutcome } from '../../src/server.js';
import { corsPolicy } from '../../src/http/cors.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { memoryLogger } from '../helpers/logger.js';

const CHROMIUM = '/usr/bin/chromium';

function request(port: number, opts: { path?: string; method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const authenticate = async (req: http.IncomingMessage): Promise<AuthOutcome> =>
  req.headers.authorization === 'Basic YWRtaW46cHc=' ? { ok: true, user: { username: 'admin', role: 'super_user' }, method: 'basic' } : { ok: false, status: 401, error: 'Login failed', reason: 'test' };
const userInfo: OperationHandler = async (body, caller) => (body.operation === 'user_info' ? { status: 200, body: { username: caller?.username } } : undefined);

/** An application server and an Operations API, both with the given CORS configuration. */
async function corsServer(cors: CorsConfig | false): Promise<{ server: HarperServer; app: number; ops: number }> {
  const server = new HarperServer({
    logger: memoryLogger().logger,
    host: '127.0.0.1',
    listeners: [
      { name: 'http', api: 'app', port: 0, authenticate, cors: corsPolicy(cors, 'app') },
      { name: 'operations', api: 'operations', port: 0, authenticate, cors: corsPolicy(cors, 'operations') },
    ],
    operations: [userInfo],
  });
  const info = await server.listen();
  return { server, app: info[0]!.port, ops: info[1]!.port };
}

describe('CORS headers (Harper semantics)', () => {
  let listed: Awaited<ReturnType<typeof corsServer>>;
  let any: Awaited<ReturnType<typeof corsServer>>;
  let off: Awaited<ReturnType<typeof corsServer>>;
  beforeAll(async () => {
    listed = await corsServer({ anyOrigin: false, origins: ['https://app.example'] });
    any = await corsServer({ anyOrigin: true, origins: [] });
    off = await corsServer(false);
  });
  afterAll(async () => {
    await Promise.all([listed, any, off].map((s) => s?.server.close()));
  });

  it('echoes a listed Origin with Vary: Origin, on both APIs, errors included', async () => {
    const a = await request(listed.app, { path: '/health', headers: { origin: 'https://app.example' } });
    expect(a.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(a.headers.vary).toBe('Origin');
    const who = await request(listed.app, { path: '/whoami', headers: { origin: 'https://app.example' } });
    expect(who.status).toBe(401);
    expect(who.headers['access-control-allow-origin']).toBe('https://app.example');
    const op = await request(listed.ops, { method: 'POST', body: '{"operation":"user_info"}', headers: { origin: 'https://app.example', authorization: 'Basic YWRtaW46cHc=', 'content-type': 'application/json' } });
    expect(op.status).toBe(200);
    expect(op.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it('gives an unlisted Origin no Access-Control-Allow-Origin (but still Vary), and answers the request', async () => {
    const r = await request(listed.app, { path: '/health', headers: { origin: 'https://evil.example' } });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    expect(r.headers.vary).toBe('Origin');
  });

  it('answers a preflight with 204, the allowed methods and Content-Type, Authorization, Accept', async () => {
    for (const [port, methods] of [
      [listed.app, 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'],
      [listed.ops, 'POST, GET, OPTIONS'],
    ] as const) {
      const r = await request(port, { method: 'OPTIONS', path: '/', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
      expect(r.status).toBe(204);
      expect(r.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(r.headers['access-control-allow-methods']).toBe(methods);
      expect(r.headers['access-control-allow-headers']).toBe('Content-Type, Authorization, Accept');
      expect(r.body).toBe('');
    }
    const refused = await request(listed.ops, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(refused.status).toBe(204);
    expect(Object.keys(refused.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it("any origin when the list holds '*' or only null; nothing at all when cors is off", async () => {
    const r = await request(any.ops, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:1234', 'access-control-request-method': 'POST' } });
    expect(r.headers['access-control-allow-origin']).toBe('http://127.0.0.1:1234');
    const o = await request(off.app, { path: '/health', headers: { origin: 'https://app.example' } });
    expect(o.headers['access-control-allow-origin']).toBeUndefined();
    expect(o.headers.vary).toBeUndefined();
    const pre = await request(off.app, { method: 'OPTIONS', path: '/health', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    expect(pre.status).toBe(404); // no CORS: OPTIONS is just another request
  });
});

/** Runs headless Chromium on `url` and returns the DOM it ends with. */
function chromiumDom(url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'harper-tls-chromium-'));
  const args = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    `--user-data-dir=${profile}`,
    // Lets the page's fetches finish before the DOM is dumped (virtual time advances only when the page is idle).
    '--virtual-time-budget=20000',
    '--dump-dom',
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`chromium failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('CORS in a real browser (headless Chromium)', () => {
  it('has a browser to test with', () => {
    // Not a skip: without the browser this capability is untested, so the suite says so and fails.
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium --no-install-recommends`).toBe(true);
  });

  let page: http.Server;
  let pagePort: number;
  let allowed: Awaited<ReturnType<typeof corsServer>>;
  let refused: Awaited<ReturnType<typeof corsServer>>;

  beforeAll(async () => {
    page = http.createServer((req, res) => {
      const targets = [
        { name: 'app-allowed', url: `http://127.0.0.1:${allowed.app}/whoami`, init: { headers: { authorization: 'Basic YWRtaW46cHc=' } } },
        { name: 'ops-allowed', url: `http://127.0.0.1:${allowed.ops}/`, init: { method: 'POST', headers: { authorization: 'Basic YWRtaW46cHc=', 'content-type': 'application/json' }, body: '{"operation":"user_info"}' } },
        { name: 'app-refused', url: `http://127.0.0.1:${refused.app}/whoami`, init: { headers: { authorization: 'Basic YWRtaW46cHc=' } } },
        { name: 'ops-refused', url: `http://127.0.0.1:${refused.ops}/`, init: { method: 'POST', headers: { authorization: 'Basic YWRtaW46cHc=', 'content-type': 'application/json' }, body: '{"operation":"user_info"}' } },
        { name: 'app-simple-refused', url: `http://127.0.0.1:${refused.app}/health`, init: {} },
      ];
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><html><body><pre id="out">pending</pre><script>
const targets = ${JSON.stringify(targets)};
(async () => {
  const results = {};
  for (const t of targets) {
    try {
      const r = await fetch(t.url, t.init);
      results[t.name] = r.status + ' ' + (await r.text());
    } catch (e) {
      results[t.name] = 'blocked ' + e.name;
    }
  }
  document.getElementById('out').textContent = 'RESULTS' + JSON.stringify(results) + 'END';
})();
</script></body></html>`);
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pagePort = (page.address() as { port: number }).port;
    // The page's origin is http://127.0.0.1:<pagePort>: listed on one server, not on the other.
    allowed = await corsServer({ anyOrigin: false, origins: [`http://127.0.0.1:${pagePort}`] });
    refused = await corsServer({ anyOrigin: false, origins: ['https://someone-else.example'] });
  });
  afterAll(async () => {
    await Promise.all([allowed?.server.close(), refused?.server.close(), new Promise((r) => page?.close(r))]);
  });

  it('a page from another origin reads both APIs when listed, and is refused by the browser when not', async () => {
    const dom = await chromiumDom(`http://127.0.0.1:${pagePort}/`);
    const m = /RESULTS(.*)END/.exec(dom);
    expect(m, dom).not.toBeNull();
    const results = JSON.parse(m![1]!.replaceAll('&quot;', '"').replaceAll('&amp;', '&'));
    expect(results).toEqual({
      'app-allowed': '200 {"username":"admin","role":"super_user","authenticatedBy":"basic"}',
      'ops-allowed': '200 {"username":"admin"}',
      'app-refused': 'blocked TypeError',
      'ops-refused': 'blocked TypeError',
      'app-simple-refused': 'blocked TypeError',
    });
  }, 90_000);
});
