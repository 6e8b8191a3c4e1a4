// Freezes the current builds of @harper-tls/server, @harper-tls/mtls-auth and @harper-tls/revocation (their dist/) under
// bench-out/snapshots/<name>/, wired to the workspace's other dependencies, so that a later
// build can be measured side by side with this one (bench/compare.mjs BASELINE=<name>).
// Usage: pnpm --filter @harper-tls/server... build && node bench/snapshot.mjs before
//   (SERVER_DIST=<dir> MTLS_DIST=<dir> REVOCATION_DIST=<dir> take the dist folders from elsewhere, e.g. a saved copy)
import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { here, out } from './lib.mjs';

const name = process.argv[2];
if (!name) throw new Error('usage: node bench/snapshot.mjs <name>');
const pkgs = join(here, '..', '..');
const root = join(out, 'snapshots', name);
rmSync(root, { recursive: true, force: true });
const server = join(root, 'node_modules', '@harper-tls', 'server');
const mtls = join(server, 'node_modules', '@harper-tls', 'mtls-auth');

cpSync(process.env.SERVER_DIST ?? join(pkgs, 'server', 'dist'), join(server, 'dist'), { recursive: true });
copyFileSync(join(pkgs, 'server', 'package.json'), join(server, 'package.json'));
// server's dependencies: the workspace's, except mtls-auth, which is frozen too
mkdirSync(join(server, 'node_modules', '@harper-tls'), { recursive: true });
for (const dep of readdirSync(join(pkgs, 'server', 'node_modules'))) {
  if (dep === '@harper-tls' || dep.startsWith('.')) continue;
  symlinkSync(join(pkgs, 'server', 'node_modules', dep), join(server, 'node_modules', dep));
}
for (const dep of readdirSync(join(pkgs, 'server', 'node_modules', '@harper-tls'))) {
  if (dep === 'mtls-auth' || dep === 'revocation') continue;
  symlinkSync(join(pkgs, dep), join(server, 'node_modules', '@harper-tls', dep));
}
mkdirSync(mtls, { recursive: true });
cpSync(process.env.MTLS_DIST ?? join(pkgs, 'mtls-auth', 'dist'), join(mtls, 'dist'), { recursive: true });
copyFileSync(join(pkgs, 'mtls-auth', 'package.json'), join(mtls, 'package.json'));
symlinkSync(join(pkgs, 'mtls-auth', 'node_modules'), join(mtls, 'node_modules'));
const revocation = join(server, 'node_modules', '@harper-tls', 'revocation');
mkdirSync(revocation, { recursive: true });
cpSync(process.env.REVOCATION_DIST ?? join(pkgs, 'revocation', 'dist'), join(revocation, 'dist'), { recursive: true });
copyFileSync(join(pkgs, 'revocation', 'package.json'), join(revocation, 'package.json'));
symlinkSync(join(pkgs, 'revocation', 'node_modules'), join(revocation, 'node_modules'));
process.stdout.write(`${join(server, 'dist', 'index.js')}\n`);
