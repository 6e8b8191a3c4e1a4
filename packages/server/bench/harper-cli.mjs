// harper-tls as `harper-tls start` runs it (apps/harper-tls/dist/cli.js), with threads.count from
// cfg.threads: the real single-process start (1) or the node:cluster primary and its workers (> 1).
// cfg.nodeArgs (e.g. ['--cpu-prof']) go to the server's node. Prints {port} once it serves; SIGTERM stops it (the CLI drains its workers).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const cli = fileURLToPath(new URL('../../../apps/harper-tls/dist/cli.js', import.meta.url));
const file = join(cfg.root, 'harperdb-config.yaml');
writeFileSync(file, readFileSync(file, 'utf8').replace(/securePort: \d+/, `securePort: ${cfg.port}`) + `threads:\n  count: ${cfg.threads}\n`);
// The user the client certificates name (CN=bench), as harper-server.mjs creates it.
const { openUserStore } = await import('@harper-tls/server');
mkdirSync(join(cfg.root, 'database'), { recursive: true });
const users = await openUserStore({ path: join(cfg.root, 'database', 'users.mdb') });
await users.ensureAdmin({ username: 'admin', password: 'bench' });
try {
  await users.create({ username: 'bench', password: 'bench-pw', role: 'super_user', active: true });
} catch {}
await users.close();
const child = spawn(process.execPath, [...(cfg.nodeArgs ?? []), cli, 'start', '--root', cfg.root], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'bench' } });
let out = '';
let printed = false;
child.stdout.on('data', (d) => {
  out += d;
  if (!printed && /https\s+listening on/.test(out) && (cfg.threads === 1 || out.includes('serving with'))) {
    printed = true;
    process.stdout.write(JSON.stringify({ port: cfg.port, pid: child.pid }) + '\n');
  }
});
child.once('exit', (code) => process.exit(code ?? 1));
process.on('SIGTERM', () => child.kill('SIGTERM'));
