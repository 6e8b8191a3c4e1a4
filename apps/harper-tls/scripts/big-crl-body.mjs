// A 200 MB chunked body served on 127.0.0.1 and fetched with the revocation package's fetchBytes as the
// CRL cache does (10 s timeout, 256 MiB limit): prints the bytes received, the time and the peak RSS.
// node apps/harper-tls/scripts/big-crl-body.mjs
import { createServer } from 'node:http';
// Build first: pnpm --filter @harper-tls/revocation build
const { fetchBytes } = await import(new URL('../../../packages/revocation/dist/index.js', import.meta.url).href);
const s = createServer((req, res) => { res.writeHead(200); const c = Buffer.alloc(65536, 65); let left = 200 * 2 ** 20; const pump = () => { while (left > 0) { left -= c.length; if (!res.write(c)) return void res.once('drain', pump); } res.end(); }; res.on('error', () => {}); pump(); });
await new Promise((r) => s.listen(0, '127.0.0.1', r));
let max = 0; const t = setInterval(() => (max = Math.max(max, process.memoryUsage().rss)), 20);
const r0 = process.memoryUsage().rss; const t0 = Date.now();
try { const b = await fetchBytes(`http://127.0.0.1:${s.address().port}/`, { timeoutMs: 10000, maxBytes: 256 * 2 ** 20 }); console.log('got', b.length); } catch (e) { console.log('err', e.code, e.message); }
clearInterval(t); console.log('ms', Date.now() - t0, 'rss start MiB', (r0 / 2 ** 20).toFixed(0), 'max', (max / 2 ** 20).toFixed(0)); s.closeAllConnections(); s.close();
