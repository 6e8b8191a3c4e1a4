import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, freePort, run, tempRoot, type Run } from '../helpers/run.js';
import { echoHandler, values, type Seen } from './harness.js';

/**
 * SPEC.md sections 6 and 7 together: what an upstream learns of the client when a request comes
 * through a trusted proxy (127.0.0.1 here) and when the same headers come from anyone else
 * (127.0.0.2). The inbound X-Forwarded-For is kept only from the trusted proxy, the hop that
 * connected is appended, `Forwarded` names the client harper-tls resolved; identity headers are
 * harper-tls's own in both cases.
 */
describe('applications behind a trusted proxy: X-Forwarded-For toward the upstream', () => {
  const { root, cleanup } = tempRoot();
  let server: Run | undefined;
  let upstream: http.Server;
  let port: number;

  beforeAll(async () => {
    upstream = http.createServer(echoHandler());
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const up = (upstream.address() as { port: number }).port;
    port = await freePort();
    writeFileSync(
      join(root, 'harperdb-config.yaml'),
      [
        'http:',
        `  port: ${port}`,
        `  securePort: ${await freePort()}`,
        '  trustedProxies: [127.0.0.1]',
        'operationsApi:',
        '  network:',
        `    port: ${await freePort()}`,
        'logging: {level: error, stdStreams: false}',
        'applications:',
        `  - {path: /api, upstream: "http://127.0.0.1:${up}"}`,
        '',
      ].join('\n'),
    );
    server = run(['start', '--root', root], { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' });
    await server.waitFor('operations ');
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await new Promise((r) => upstream?.close(r));
    cleanup();
  });

  const seen = async (from: string): Promise<Seen> => {
    const spoof = ['-H', 'X-Forwarded-For: 203.0.113.5', '-H', 'X-Forwarded-User: root', '-H', 'Forwarded: for=198.51.100.9;user=root'];
    const r = await curl(['--interface', from, '-u', 'admin:admin-pw', ...spoof, `http://127.0.0.1:${port}/api/x`]);
    expect(r.status).toBe(200);
    return JSON.parse(r.body) as Seen;
  };

  it('from the trusted proxy: its chain is kept and the proxy appended; Forwarded names the resolved client', async () => {
    const s = await seen('127.0.0.1');
    expect(values(s.rawHeaders, 'x-forwarded-for')).toEqual(['203.0.113.5, 127.0.0.1']);
    expect(values(s.rawHeaders, 'forwarded')).toEqual([expect.stringMatching(/^for=203\.0\.113\.5;proto=http/)]);
    expect(values(s.rawHeaders, 'x-forwarded-user')).toEqual(['admin']);
  });

  it('from an address outside trustedProxies: nothing it claimed is passed on', async () => {
    const s = await seen('127.0.0.2');
    expect(values(s.rawHeaders, 'x-forwarded-for')).toEqual(['127.0.0.2']);
    expect(values(s.rawHeaders, 'forwarded')).toEqual([expect.stringMatching(/^for=127\.0\.0\.2;proto=http/)]);
    expect(values(s.rawHeaders, 'x-forwarded-user')).toEqual(['admin']);
  });
});
