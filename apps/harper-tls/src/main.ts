import { isHarperTlsError } from '@harper-tls/config';
import { StoreError } from '@harper-tls/store';
import type { Command, CommandContext } from './context.js';
import { CliError } from './errors.js';
import { COMMANDS } from './commands/index.js';
import { closest } from './suggest.js';

export const VERSION = '0.1.0';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'harper-tls — TLS, mTLS and certificate management server',
    '',
    'Usage: harper-tls <command> [options]   (no command: start)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --root DIR (else $ROOTPATH, else ~/hdb) and --help.',
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  // Two-word commands first ("cert issue"), then one word; no command word means start.
  for (const c of COMMANDS) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command: c, rest: argv.slice(words.length) };
  }
  if (argv.length === 0 || argv[0]!.startsWith('--')) {
    const start = COMMANDS.find((c) => c.name === 'start')!;
    return { command: start, rest: argv };
  }
  return undefined;
}

/** The one line for a command word that is not one: the closest command, or what a group takes. */
function unknownCommand(argv: string[]): string {
  const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
  if (group.length) {
    const subs = group.map((c) => c.name.split(' ')[1]!);
    if (argv[1] === undefined || argv[1].startsWith('-')) return `unknown command "${argv[0]}"; "${argv[0]}" takes one of: ${subs.join(', ')}`;
    const guess = closest(argv[1], subs);
    return `unknown command "${argv[0]} ${argv[1]}"; ${guess ? `did you mean "${argv[0]} ${guess}"?` : `"${argv[0]}" takes one of: ${subs.join(', ')}`}`;
  }
  const names = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!))];
  const guess = closest(argv[0]!, names);
  return `unknown command "${argv[0]}"; ${guess ? `did you mean "${guess}"?` : 'see harper-tls --help'}`;
}

/** Runs the CLI; resolves with the exit code. User mistakes print one line, never a stack. */
export async function main(ctx: CommandContext): Promise<number> {
  // `pnpm start -- --root DIR` passes the `--` through; it separates nothing here.
  const argv = ctx.argv.filter((a) => a !== '--');
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    ctx.stdout(overview() + '\n');
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    ctx.stdout(`${VERSION}\n`);
    return 0;
  }
  const found = findCommand(argv);
  const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
  if (!found && group.length && (argv[1] === '--help' || argv[1] === '-h')) {
    ctx.stdout(`${group.map((c) => `${c.usage.split('\n')[0]}\n    ${c.summary}`).join('\n')}\n\nSee harper-tls ${argv[0]} <subcommand> --help\n`);
    return 0;
  }
  if (!found) {
    ctx.stderr(`harper-tls: ${unknownCommand(argv)}\n`);
    return 1;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.stdout(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run({ ...ctx, argv: rest });
  } catch (err) {
    if (err instanceof CliError) {
      ctx.stderr(`harper-tls ${command.name}: ${err.message}\n`);
      return 1;
    }
    if (isHarperTlsError(err)) {
      ctx.stderr(`harper-tls ${command.name}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof StoreError) {
      // The cluster engine on a node's root (unreachable, no schema, a missing certificate file): one line.
      ctx.stderr(`harper-tls ${command.name}: cluster: ${err.message}\n`);
      return 1;
    }
    ctx.stderr(`harper-tls ${command.name}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}
