import { join } from 'node:path';
import { loadConfig, resolveRootPath, type HarperConfig } from '@harper-tls/config';
import { KEY_TYPES, type KeyType } from '@harper-tls/cert-gen';
import { CliError } from '../errors.js';
import { closest } from '../suggest.js';
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

export const KEY_TYPE_FLAG: Record<string, FlagSpec> = {
  'key-type': { type: 'string', valueName: 'TYPE', help: `key algorithm: ${KEY_TYPES.join(', ')} (default ec-p256; rsa-4096 takes seconds)` },
};

/** `--key-type`, checked here so a typo is one line with a suggestion. */
export function keyTypeFlag(flags: Record<string, unknown>): KeyType | undefined {
  const v = flags['key-type'] as string | undefined;
  if (v === undefined) return undefined;
  if ((KEY_TYPES as readonly string[]).includes(v)) return v as KeyType;
  const guess = closest(v, KEY_TYPES);
  throw new CliError(`--key-type must be one of ${KEY_TYPES.join(', ')}; got "${v}"${guess ? ` (did you mean ${guess}?)` : ''}`);
}

/** What the user waits for while keys are made: "Generating a 4096-bit RSA key for CN=alice". */
export function keyLabel(keyType: KeyType | undefined, what: string, plural = false): string {
  const kind = keyType?.startsWith('rsa-') ? `${keyType.slice(4)}-bit RSA ` : '';
  return plural ? `Generating ${kind}keys for ${what}` : `Generating ${kind ? `a ${kind}` : 'the '}key for ${what}`;
}
