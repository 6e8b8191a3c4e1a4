import { CliError } from './errors.js';
import { closest } from './suggest.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** One line for --help. */
  help: string;
  valueName?: string;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** `--KEY VALUE` pairs not in the spec, kept raw for the config loader (start only). */
  overrides: string[];
}

/**
 * Parses `--flag value`, `--flag=value` and boolean `--flag`. Unknown flags are an error unless
 * `passThrough` is set (then they are config overrides, each followed by its value).
 */
export function parseArgs(argv: readonly string[], spec: Record<string, FlagSpec>, passThrough = false): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  const overrides: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const flag = spec[name];
    if (!flag) {
      // start passes unknown flags to the config loader (upper-case keys such as --HTTP_PORT), but a
      // near miss of one of its own lower-case flags is a typo, not a configuration key.
      const guess = closest(name, Object.keys(spec));
      if (!passThrough || (guess && name !== name.toUpperCase())) throw unknownFlag(name, guess);
      if (inline !== undefined) overrides.push(`--${name}`, inline);
      else {
        const value = argv[i + 1];
        if (value === undefined) throw new CliError(`option --${name} needs a value`);
        overrides.push(`--${name}`, value);
        i++;
      }
      continue;
    }
    if (flag.type === 'boolean') {
      if (inline !== undefined) throw new CliError(`option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new CliError(`option --${name} needs a value (${flag.valueName ?? 'VALUE'})`);
      i++;
    }
    if (flag.multiple) flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    else {
      if (flags[name] !== undefined) throw new CliError(`option --${name} given twice`);
      flags[name] = value;
    }
  }
  return { flags, positionals, overrides };
}

function unknownFlag(name: string, guess: string | undefined): CliError {
  return new CliError(`unknown flag --${name}${guess ? `; did you mean --${guess}?` : ''} (see --help)`);
}

export function formatFlags(spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, f]) => [`--${name}${f.type === 'string' ? ` ${f.valueName ?? 'VALUE'}` : ''}`, f.help + (f.multiple ? ' (repeatable)' : '')]);
  const width = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([a, b]) => `  ${a!.padEnd(width)}  ${b}`).join('\n');
}
