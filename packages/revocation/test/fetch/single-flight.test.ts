import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createSingleFlight, fetchBytes } from '../../src/fetch/fetch-bytes.js';

it('50 concurrent requests for one URL cause exactly one download', async () => {
  let hits = 0;
  const server = createServer((_req, res) => { hits++; setTimeout(() => res.end('crl'), 50); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x.crl`;
  try {
    const sf = createSingleFlight<Uint8Array>();
    const all = await Promise.all(Array.from({ length: 50 }, () => sf.run(url, () => fetchBytes(url, { timeoutMs: 2000, maxBytes: 100 }))));
    expect(hits).toBe(1);
    expect(all.every((b) => Buffer.from(b).toString() === 'crl')).toBe(true);
    expect(sf.size).toBe(0);
    await sf.run(url, () => fetchBytes(url, { timeoutMs: 2000, maxBytes: 100 }));
    expect(hits).toBe(2);
  } finally {
    server.closeAllConnections(); server.close();
  }
});
