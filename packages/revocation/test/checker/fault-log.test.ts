import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCertificateVerification } from '@harper-tls/config';
import { createRevocationChecker, type Logger, type RevocationCheckerOptions } from '../../src/index.js';
import { OpensslPki } from '../helpers/openssl-pki.js';
import { freePort } from '../helpers/ocsp-servers.js';

/** Failures are logged at warn once per (URL, code) per interval, with the count of repeats. */
const pki = new OpensslPki();
let server: Server;
let port = 0;
let downPort = 0;
const hits = new Map<string, number>();
let garbage = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
    if (garbage) return void res.writeHead(200).end('not a CRL');
    res.writeHead(500).end('no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  downPort = await freePort();
  pki.ca('ca');
  pki.issue('crl500', 'ca', '3001', { cdp: `http://127.0.0.1:${port}/crl/a` });
  pki.issue('crl500b', 'ca', '3002', { cdp: `http://127.0.0.1:${port}/crl/b` });
  pki.issue('ocspdown', 'ca', '3003', { ocsp: `http://127.0.0.1:${downPort}/ocsp` });
  pki.issue('secret', 'ca', '3004', { cdp: `http://alice:s3cr3t-pw@127.0.0.1:${port}/crl/c` });
}, 60_000);

afterAll(() => {
  server.closeAllConnections();
  server.close();
  pki.cleanup();
});

function fakeLogger() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const at = (level: string) => (obj: object | string, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, warns: () => lines.filter((l) => l.level === 'warn'), lines };
}

function setup(extra: Partial<RevocationCheckerOptions> = {}, ocsp = false, crlCacheTtl = 100) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const log = fakeLogger();
  const config = defaultCertificateVerification();
  // cacheTtl 100 ms: a failed download is retried after 100 ms (the back-off, at most cacheTtl).
  config.crl = { ...config.crl, timeout: 2000, enabled: !ocsp, cacheTtl: crlCacheTtl };
  config.ocsp = { ...config.ocsp, timeout: 2000, enabled: ocsp, errorCacheTtl: 1000 };
  const c = createRevocationChecker({ config, logger: log.logger, now: () => new Date(now), ...extra });
  return { c, log, advance: (ms: number) => void (now += ms), at: () => new Date(now) };
}
const chain = (leaf: string) => [pki.pem(leaf), pki.pem('ca')];

describe('fault logging', () => {
  it('100 failing CRL downloads: one warn line; after the interval one more, with suppressed: 99', async () => {
    const { c, log, advance, at } = setup();
    const before = hits.get('/crl/a') ?? 0;
    for (let i = 0; i < 100; i++) {
      expect((await c.check(chain('crl500'), { at: at() })).status).toBe('unknown');
      expect((await c.check(chain('crl500'), { at: at() })).status).toBe('unknown'); // within the back-off: no download
      advance(100); // 100 checks in 10 s, each after the back-off
    }
    expect((hits.get('/crl/a') ?? 0) - before).toBe(100); // 100 real failures, not cached ones
    expect(log.warns()).toHaveLength(1);
    const url = `http://127.0.0.1:${port}/crl/a`;
    expect(log.warns()[0]).toEqual({ level: 'warn', msg: 'CRL download failed', obj: { method: 'crl', url, code: 'ERR_REVOCATION_FETCH', error: `${url} answered HTTP 500` } });
    advance(50_000); // the default interval, 60 s, since the first line
    await c.check(chain('crl500'), { at: at() });
    expect(log.warns()).toHaveLength(2);
    expect(log.warns()[1]).toEqual({ level: 'warn', msg: 'CRL download failed', obj: { method: 'crl', url, code: 'ERR_REVOCATION_FETCH', error: `${url} answered HTTP 500`, suppressed: 99 } });
  });

  it('faultLogIntervalMs: nothing more 1 ms before the interval ends, a line with the count at its end', async () => {
    const { c, log, advance, at } = setup({ faultLogIntervalMs: 5000 }, false, 1); // retried after 1 ms
    for (let i = 0; i < 10; i++) {
      await c.check(chain('crl500'), { at: at() });
      advance(100);
    }
    advance(3999);
    await c.check(chain('crl500'), { at: at() });
    expect(log.warns()).toHaveLength(1);
    advance(1);
    await c.check(chain('crl500'), { at: at() });
    advance(5000);
    await c.check(chain('crl500'), { at: at() });
    expect(log.warns().map((w) => w.obj.suppressed)).toEqual([undefined, 10, 0]);
  });

  it('another URL, or another error code at the same URL, gets its own line', async () => {
    const { c, log, advance } = setup();
    await c.check(chain('crl500'));
    await c.check(chain('crl500b'));
    advance(100);
    await c.check(chain('crl500'));
    advance(100);
    garbage = true;
    try {
      await c.check(chain('crl500'));
      await c.check(chain('crl500'));
    } finally {
      garbage = false;
    }
    const w = log.warns().map((l) => [String(l.obj.url).replace(/.*\/crl\//, ''), l.obj.code]);
    expect(w).toEqual([
      ['a', 'ERR_REVOCATION_FETCH'],
      ['b', 'ERR_REVOCATION_FETCH'],
      ['a', expect.stringMatching(/^ERR_REVOCATION_MALFORMED_/)],
    ]);
  });

  it('OCSP failures: once per interval per responder URL, with the repeats counted (cached failures are not faults)', async () => {
    const { c, log, advance, at } = setup({ faultLogIntervalMs: 300_000 }, true);
    for (let i = 0; i < 100; i++) {
      const v = await c.check(chain('ocspdown'), { at: at() });
      expect(v.certificates[0]!.errors.join(' ')).toMatch(/ocsp: .*ECONNREFUSED/);
      await c.check(chain('ocspdown'), { at: at() }); // answered from the error cache
      advance(1000); // past errorCacheTtl: the next check asks again
    }
    expect(c.stats.ocspRequests).toBe(100);
    expect(log.warns()).toHaveLength(1);
    const url = `http://127.0.0.1:${downPort}/ocsp`;
    expect(log.warns()[0]).toMatchObject({ msg: 'OCSP request failed', obj: { method: 'ocsp', url, code: 'ERR_REVOCATION_FETCH', error: expect.stringMatching(/ECONNREFUSED/) } });
    // The log names the responder, not the GET URL with the encoded request.
    expect(String(log.warns()[0]!.obj.error)).toContain(`${url} (GET)`);
    advance(200_000);
    await c.check(chain('ocspdown'), { at: at() }); // 300 s after the first line
    expect(log.warns()).toHaveLength(2);
    expect(log.warns()[1]!.obj.suppressed).toBe(99);
  });

  it('never logs credentials of a URL', async () => {
    const { c, log } = setup();
    const v = await c.check(chain('secret'));
    expect(v.status).toBe('unknown');
    expect(log.warns()).toHaveLength(1);
    const text = JSON.stringify(log.lines);
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('alice');
    expect(JSON.stringify(v)).not.toContain('s3cr3t'); // nor the verdict's errors
    expect(log.warns()[0]!.obj.url).toBe(`http://127.0.0.1:${port}/crl/c`);
  });

  it('no logger, no lines and no cost; a bad interval is refused', async () => {
    const config = defaultCertificateVerification();
    expect(() => createRevocationChecker({ config, faultLogIntervalMs: -1 })).toThrow(/faultLogIntervalMs/);
    expect((await createRevocationChecker({ config: { ...config, ocsp: { ...config.ocsp, enabled: false } } }).check(chain('crl500'))).status).toBe('unknown');
  });
});
