// harper-tls as configured for the benchmark: mTLS required, revocation on (CRL and/or OCSP per
// the config file in cfg.root). Prints {port, rss} once listening. On SIGUSR2 it writes
// process.memoryUsage() (after a GC when started with --expose-gc) to cfg.memFile.
import { writeFileSync } from 'node:fs';
import { loadConfig, validateTlsMaterial, ConfigError } from '@harper-tls/config';

const cfg = JSON.parse(process.argv[2]);
// cfg.module: another build of @harper-tls/server (a bench/snapshot.mjs snapshot), for compare.mjs.
const { createLogger, startHarper } = await import(cfg.module ?? '@harper-tls/server');
const { config } = await loadConfig({ root: cfg.root, env: {}, createIfMissing: false });
const issues = validateTlsMaterial(config);
if (issues.length) throw new ConfigError(issues);
const instance = await startHarper({ config, logger: createLogger({ level: 'error' }), host: '127.0.0.1', portOverrides: { https: 0 }, admin: { username: 'admin', password: 'bench' } });
try {
  await instance.users.create({ username: 'bench', password: 'bench-pw', role: 'super_user', active: true });
} catch {
  // exists from an earlier run
}
const https = instance.listening.find((l) => l.name === 'https');
process.stdout.write(JSON.stringify({ port: https.port, rss: process.memoryUsage().rss }) + '\n');
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  if (cfg.memFile) writeFileSync(cfg.memFile, JSON.stringify(process.memoryUsage()));
});
process.on('SIGTERM', () => instance.close().then(() => process.exit(0)));
