import { join } from 'node:path';
import { loadConfig, resolveRootPath, type HarperConfig } from '@harper-tls/config';
import type { FlagSpec } from '../args.js';
import type { CommandContext } from '../context.js';

export const ROOT_FLAG: Record<string, FlagSpec> = {
  root: { type: 'string', valueName: 'DIR', help: 'root directory (default: $ROOTPATH, else ~/hdb)' },
};

export const CONFIG_FLAG: Record<string, FlagSpec> = {
  config: { type: 'string', valueName: 'FILE', help: 'configuration file (default: <root>/harperdb-config.yaml)' },
};

export function rootPath(ctx: CommandContext, flags: Record<string, unknown>): string {
  return resolveRootPath({ root: flags.root as string | undefined, env: ctx.env, homedir: ctx.homedir });
}

export function keysDir(root: string): string {
  return join(root, 'keys');
}

/** Loads the configuration for a command other than start: never creates the file. */
export async function loadExistingConfig(ctx: CommandContext, flags: Record<string, unknown>): Promise<HarperConfig> {
  const root = rootPath(ctx, flags);
  const { config, warnings } = await loadConfig({ root, configFile: flags.config as string | undefined, env: ctx.env, homedir: ctx.homedir, createIfMissing: false });
  for (const w of warnings) ctx.stderr(`warning: ${w.message}\n`);
  return config;
}

export function usage(lines: string[], flags: Record<string, FlagSpec>, formatFlags: (s: Record<string, FlagSpec>) => string): string {
  return [...lines, '', 'Options:', formatFlags(flags), '  --help  show this help'].join('\n');
}
