import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes } from '../../src/fetch/fetch-bytes.js';

let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') { res.end(Buffer.from([1, 2, 3])); return; }
    if (req.url === '/big') { res.write(Buffer.alloc(4096)); res.end(Buffer.alloc(4096)); return; }
    if (req.url === '/announced') { res.writeHead(200, { 'content-length': '6' }); res.write(Buffer.from([1, 2, 3])); setTimeout(() => res.end(Buffer.from([4, 5, 6])), 5); return; }
    if (req.url === '/chunked') { res.write(Buffer.from([1, 2, 3])); setTimeout(() => res.end(Buffer.from([4, 5, 6])), 5); return; }
    if (req.url === '/empty') { res.writeHead(200, { 'content-length': '0' }); res.end(); return; }
    if (req.url === '/500') { res.statusCode = 500; res.end('no'); return; }
    if (req.url === '/hang') { res.writeHead(200); res.write('x'); return; }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => { server.closeAllConnections(); server.close(); });

describe('fetchBytes over real HTTP on 127.0.0.1', () => {
  it('downloads a body', async () => {
    expect([...(await fetchBytes(`${base}/ok`, { timeoutMs: 2000, maxBytes: 100 }))]).toEqual([1, 2, 3]);
  });
  it('rejects oversize bodies with ERR_REVOCATION_TOO_LARGE', async () => {
    await expect(fetchBytes(`${base}/big`, { timeoutMs: 2000, maxBytes: 5000 })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TOO_LARGE' });
  });
  it('reports non-2xx status', async () => {
    await expect(fetchBytes(`${base}/500`, { timeoutMs: 2000, maxBytes: 100 })).rejects.toMatchObject({ code: 'ERR_REVOCATION_FETCH', message: expect.stringContaining('500') });
  });
  it('times out on a body that never finishes', async () => {
    const t0 = Date.now();
    await expect(fetchBytes(`${base}/hang`, { timeoutMs: 300, maxBytes: 100 })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });
  it('prefixBytes: the body after that many zero bytes, in one buffer, with or without content-length', async () => {
    for (const path of ['announced', 'chunked']) {
      const out = await fetchBytes(`${base}/${path}`, { timeoutMs: 2000, maxBytes: 100, prefixBytes: 8 });
      expect([...out]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
      expect(out.byteOffset).toBe(0);
      expect(out.buffer.byteLength).toBe(14);
      expect([...(await fetchBytes(`${base}/${path}`, { timeoutMs: 2000, maxBytes: 100 }))]).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect([...(await fetchBytes(`${base}/ok`, { timeoutMs: 2000, maxBytes: 100, prefixBytes: 2 }))]).toEqual([0, 0, 1, 2, 3]);
    expect([...(await fetchBytes(`${base}/empty`, { timeoutMs: 2000, maxBytes: 100, prefixBytes: 3 }))]).toEqual([0, 0, 0]);
  });
  it('prefixBytes do not count against maxBytes', async () => {
    expect((await fetchBytes(`${base}/announced`, { timeoutMs: 2000, maxBytes: 6, prefixBytes: 8 })).length).toBe(14);
    expect((await fetchBytes(`${base}/chunked`, { timeoutMs: 2000, maxBytes: 6, prefixBytes: 8 })).length).toBe(14);
    await expect(fetchBytes(`${base}/chunked`, { timeoutMs: 2000, maxBytes: 5, prefixBytes: 8 })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TOO_LARGE' });
  });
  it('rejects file: and ldap: schemes', async () => {
    await expect(fetchBytes('file:///etc/passwd', { timeoutMs: 100, maxBytes: 100 })).rejects.toMatchObject({ message: expect.stringContaining('only http and https') });
    await expect(fetchBytes('ldap://x/y', { timeoutMs: 100, maxBytes: 100 })).rejects.toMatchObject({ code: 'ERR_REVOCATION_FETCH' });
  });
});
