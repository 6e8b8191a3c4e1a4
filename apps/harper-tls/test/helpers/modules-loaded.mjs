// Starts a server (startHarper) from the root given as argv[2] with a module hook that records
// every resolved module URL, closes it, and prints the URLs: what a start loads.
import { register } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const log = join(mkdtempSync(join(tmpdir(), 'htls-modules-')), 'loaded.txt');
const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
const repo = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const { loadConfig } = await import(pathToFileURL(join(repo, 'packages/config/dist/index.js')).href);
const { startHarper, createLogger } = await import(pathToFileURL(join(repo, 'packages/server/dist/index.js')).href);
const { config } = await loadConfig({ root: process.argv[2], env: {}, homedir: tmpdir(), createIfMissing: false });
try {
  const instance = await startHarper({ config, logger: createLogger({ level: 'error' }), host: '127.0.0.1', portOverrides: { http: 0, https: 0, operations: 0, 'operations-secure': 0 }, admin: { username: 'admin', password: 'x-modules-pw' } });
  await instance.close();
} catch (err) {
  // 'refusal-ok': a start refused after loading (another node holds the cluster node name) still shows what it loaded.
  if (process.argv[3] !== 'refusal-ok' || err?.code !== 'ERR_SERVER_DATABASE') throw err;
}
process.stdout.write(readFileSync(log, 'utf8'));
