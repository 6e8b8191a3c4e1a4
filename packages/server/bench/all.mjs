// Runs every server benchmark one after the other (about 4-5 minutes on 2 cores) and collects
// their tables in bench-out/report.md (the figures of docs/bench/server.md).
// Usage: pnpm --filter @harper-tls/server... build && node packages/server/bench/all.mjs
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { here, out, track } from './lib.mjs';

const steps = [
  ['handshakes.mjs', {}, 'handshakes.md', 'Handshakes and keep-alive: harper-tls vs bare Node https vs nginx'],
  ['bisect.mjs', { KEY_TYPE: 'ec' }, 'bisect-ec.md', 'Where the extra cost is (ECDSA P-256)'],
  ['bisect.mjs', { KEY_TYPE: 'rsa' }, 'bisect-rsa.md', 'Where the extra cost is (RSA 2048)'],
  ['revocation-load.mjs', {}, 'revocation-load.md', 'Revocation under load'],
  ['memory.mjs', {}, 'memory.md', 'Memory'],
];
const parts = [];
let failed = 0;
for (const [script, env, md, title] of steps) {
  const code = await new Promise((resolve) => {
    const child = track(spawn(process.execPath, [join(here, script)], { stdio: 'inherit', env: { ...process.env, ...env } }));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  if (code !== 0) failed++;
  parts.push(`## ${title}${code !== 0 ? ` (exit code ${code})` : ''}\n\n${existsSync(join(out, md)) ? readFileSync(join(out, md), 'utf8') : '(no output)'}`);
}
writeFileSync(join(out, 'report.md'), parts.join('\n\n') + '\n');
console.log(`\nreport: ${join(out, 'report.md')}`);
process.exit(failed ? 1 : 0);
