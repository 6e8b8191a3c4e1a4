import { homedir as osHomedir } from 'node:os';
import { resolve, join } from 'node:path';

/** Expands a leading `~` to the home directory. */
export function expandHome(path: string, homedir: string): string {
  if (path === '~') return homedir;
  if (path.startsWith('~/')) return join(homedir, path.slice(2));
  return path;
}

/**
 * ROOTPATH: `--root DIR`, else the `ROOTPATH` environment variable, else `~/hdb`. Absolute.
 */
export function resolveRootPath(opts: { root?: string; env?: Record<string, string | undefined>; homedir?: string } = {}): string {
  const home = opts.homedir ?? osHomedir();
  const chosen = opts.root || opts.env?.ROOTPATH || join(home, 'hdb');
  return resolve(expandHome(chosen, home));
}
