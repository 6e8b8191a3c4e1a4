// One measurement for sni-contexts.mjs: builds a CertificateRegistry of cfg.n SNI entries on both
// APIs and prints {initMs, reloadMs, rssDelta, heap, external, caParsed} as JSON.
import { join } from 'node:path';

const cfg = JSON.parse(process.argv[2]);
const { CertificateRegistry } = await import(cfg.module);
const file = (p) => ({ kind: 'file', value: join(cfg.dir, p), isDefault: false, origin: 'bench' });
const entries = Array.from({ length: cfg.n }, (_, i) => ({ certificate: file(`leaf${i}.pem`), privateKey: file(`leaf${i}.key`), certificateAuthority: file('ca-bundle.pem'), host: [`h${i}.test`] }));
const map = new Map();
const store = { get: async (k) => map.get(k), put: async (k, v) => void map.set(k, v), remove: async (k) => void map.delete(k), list: async () => [] };
const logger = { info() {}, warn() {}, error() {}, debug() {}, trace() {} };
globalThis.gc();
const rss0 = process.memoryUsage().rss;
const t0 = performance.now();
const registry = new CertificateRegistry({ store, logger, appTls: entries, operationsTls: entries });
await registry.init();
const initMs = performance.now() - t0;
globalThis.gc();
const mem = process.memoryUsage();
const t1 = performance.now();
const reload = registry.reloadConfigured();
const reloadMs = performance.now() - t1;
if (!reload.ok) throw new Error(reload.error);
// CA certificates held by the contexts: distinct X509Certificate objects across every entry's trust list.
const held = new Set();
for (const use of ['https', 'operations-api']) for (let i = 0; i < cfg.n; i++) for (const c of registry.contexts(use).trustedCas(`h${i}.test`)) held.add(c);
process.stdout.write(JSON.stringify({ initMs, reloadMs, rssDelta: mem.rss - rss0, heap: mem.heapUsed, external: mem.external, caParsed: held.size }));
