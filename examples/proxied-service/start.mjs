// One command: `node start.mjs`. Starts service.mjs on 127.0.0.1:SERVICE_PORT (default 3000) and
// harper-tls in front of it (`applications: [{path: /, upstream: http://127.0.0.1:3000}]`).
// Env: HARPER_ROOT (default ./.hdb), HTTPS_PORT (9927), OPS_PORT (9925), SERVICE_PORT.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from 'harper-tls';
import { createService } from './service.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export async function startExample({ root = resolve(process.env.HARPER_ROOT ?? join(here, '.hdb')), httpsPort = Number(process.env.HTTPS_PORT ?? 9927), opsPort = Number(process.env.OPS_PORT ?? 9925), servicePort = Number(process.env.SERVICE_PORT ?? 3000), env = process.env, stdout = (t) => process.stdout.write(t), stderr = (t) => process.stderr.write(t), stopSignal } = {}) {
  const service = createService();
  await new Promise((r, j) => service.once('error', j).listen(servicePort, '127.0.0.1', r));
  const port = service.address().port;
  stdout(`service listening on http://127.0.0.1:${port}/ (reachable through harper-tls only)\n`);
  mkdirSync(root, { recursive: true });
  const config = join(root, 'harperdb-config.yaml');
  if (!existsSync(config)) {
    writeFileSync(config, ['http:', '  port: null', `  securePort: ${httpsPort}`, '  mtls: true', 'operationsApi:', '  network:', `    port: ${opsPort}`, 'applications:', '  - path: /', `    upstream: http://127.0.0.1:${port}`, ''].join('\n'));
  }
  const stop = stopSignal ?? new Promise((r) => ['SIGINT', 'SIGTERM'].forEach((s) => process.once(s, () => r(s))));
  try {
    return await main({ argv: ['start', '--root', root], env, stdout, stderr, stopSignal: stop, homedir: homedir() });
  } finally {
    service.closeAllConnections();
    await new Promise((r) => service.close(r));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  startExample().then((code) => process.exit(code));
}
