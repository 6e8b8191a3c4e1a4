// Packs every workspace package with `pnpm pack` (so publishConfig and workspace:^ are applied as
// on publish) into `dest`; returns [{ name, dir, tarball }]. Needs a build (dist/) first.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');

/** Every workspace package directory (packages/*, apps/*) with its package.json. */
export function workspacePackages() {
  const out = [];
  for (const group of ['packages', 'apps']) {
    const base = join(ROOT, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const dir = join(base, name);
      const file = join(dir, 'package.json');
      if (existsSync(file)) out.push({ dir, manifest: JSON.parse(readFileSync(file, 'utf8')) });
    }
  }
  return out;
}

export function packAll(dest) {
  return workspacePackages().map(({ dir, manifest }) => {
    const printed = execFileSync('pnpm', ['pack', '--json', '--pack-destination', dest], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const info = JSON.parse(printed.slice(printed.indexOf('{')));
    return { name: manifest.name, dir, manifest, tarball: resolve(dest, info.filename.split('/').pop()) };
  });
}
