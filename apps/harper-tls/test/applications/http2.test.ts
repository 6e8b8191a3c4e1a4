import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { exec, freePort, run, tempRoot, type Run } from '../helpers/run.js';
import { startUpstreams, values, type Upstreams } from './harness.js';

/**
 * http.http2 on: ALPN offers h2 as configured (applications do not change it). An h2 request is
 * proxied with its pseudo headers turned into a plain HTTP/1.1 request, and a WebSocket upgrade
 * (HTTP/1.1 on the same port) still reaches the upstream.
 */
describe('applications with http.http2: true', () => {
  const { root, cleanup } = tempRoot();
  let server: Run;
  let up: Upstreams;
  let port: number;
  const ca = () => join(root, 'keys', 'ca.pem');

  beforeAll(async () => {
    port = await freePort();
    const base = ['http:', '  port: null', `  securePort: ${port}`, '  http2: true', 'operationsApi:', '  network:', '    port: null', '    securePort: null', 'logging:', '  stdStreams: false'];
    writeFileSync(join(root, 'harperdb-config.yaml'), `${base.join('\n')}\n`);
    const first = run(['start', '--root', root]);
    await first.waitFor('https ');
    await first.stop();
    up = await startUpstreams({ caFile: ca(), certFile: join(root, 'keys', 'certificate.pem'), keyFile: join(root, 'keys', 'privateKey.pem') });
    writeFileSync(join(root, 'plain.mjs'), "export default (req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ xfu: req.headers['x-forwarded-user'] ?? null, raw: req.rawHeaders.filter((h) => /forwarded-user|^:/i.test(h)).length, url: req.url, h2: req.httpVersion })); };\n");
    const apps = ['applications:', '  - {path: /plain, module: plain.mjs, auth: optional, stripPrefix: true}', `  - {path: /api, upstream: "http://127.0.0.1:${up.ports.http}", auth: optional}`, `  - {path: /ws, upstream: "http://127.0.0.1:${up.ports.ws}", auth: none}`];
    writeFileSync(join(root, 'harperdb-config.yaml'), `${[...base, ...apps].join('\n')}\n`);
    server = run(['start', '--root', root]);
    await server.waitFor('https ');
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await up?.close();
    cleanup();
  });

  it('an h2 request is proxied; no pseudo header or spoofed identity reaches the upstream', async () => {
    const out = await exec('curl', ['-s', '-S', '--http2', '--cacert', ca(), '-H', 'x-forwarded-user: admin', '-d', 'body', '-w', '\n%{http_version}', `https://localhost:${port}/api/h2?q=1`]);
    const [body, version] = out.split('\n');
    expect(version).toBe('2');
    const seen = JSON.parse(body!);
    expect(seen).toMatchObject({ method: 'POST', url: '/api/h2?q=1', bytes: 4 });
    expect(seen.rawHeaders.filter((_: string, i: number) => i % 2 === 0).some((n: string) => n.startsWith(':'))).toBe(false);
    expect(values(seen.rawHeaders, 'x-forwarded-user')).toEqual([]);
    expect(values(seen.rawHeaders, 'x-forwarded-host')).toEqual([`localhost:${port}`]);
  });

  it('a request-listener module over h2 sees the stripped headers (HTTP/2 compatibility objects)', async () => {
    const out = await exec('curl', ['-s', '-S', '--http2', '--cacert', ca(), '-H', 'x-forwarded-user: admin', `https://localhost:${port}/plain/p`]);
    expect(JSON.parse(out)).toEqual({ xfu: null, raw: 0, url: '/p', h2: '2.0' });
  });

  it('a WebSocket upgrade over HTTP/1.1 on the same port', async () => {
    const ws = new WebSocket(`wss://localhost:${port}/ws/x`, { ca: readFileSync(ca()) });
    const first = await new Promise<any>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(String(d))));
      ws.once('error', reject);
    });
    expect(first).toEqual({ hello: [], xfcc: 0, url: '/ws/x' });
    ws.close();
  });
});
