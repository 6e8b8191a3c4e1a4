// One command: `node start.mjs` (or `pnpm start`). Writes a harper-tls root with this folder's
// app mounted at /app and starts the server in this process. Env: HARPER_ROOT (default
// ./.hdb), HTTPS_PORT (default 9927), OPS_PORT (default 9925), HDB_ADMIN_USERNAME / _PASSWORD.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from 'harper-tls';

const here = dirname(fileURLToPath(import.meta.url));

/** Writes the root's configuration (once) and runs `harper-tls start`; resolves with its exit code. */
export function startExample({ root = resolve(process.env.HARPER_ROOT ?? join(here, '.hdb')), httpsPort = Number(process.env.HTTPS_PORT ?? 9927), opsPort = Number(process.env.OPS_PORT ?? 9925), env = process.env, stdout = (t) => process.stdout.write(t), stderr = (t) => process.stderr.write(t), stopSignal } = {}) {
  mkdirSync(root, { recursive: true });
  const config = join(root, 'harperdb-config.yaml');
  if (!existsSync(config)) {
    writeFileSync(
      config,
      [
        'http:',
        '  port: null',
        `  securePort: ${httpsPort}`,
        '  mtls: true # optional: a client certificate of the local CA, or Basic / JWT',
        'operationsApi:',
        '  network:',
        `    port: ${opsPort}`,
        'applications:',
        '  - path: /app',
        `    module: ${JSON.stringify(join(here, 'app.mjs'))}`,
        '    stripPrefix: true',
        '',
      ].join('\n'),
    );
  }
  const stop = stopSignal ?? new Promise((r) => ['SIGINT', 'SIGTERM'].forEach((s) => process.once(s, () => r(s))));
  return main({ argv: ['start', '--root', root], env, stdout, stderr, stopSignal: stop, homedir: homedir() });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  startExample().then((code) => process.exit(code));
}
