import { renewSelfSignedCertificates } from '@harper-tls/cert-gen';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { keysDir, ROOT_FLAG, rootPath, usage } from './common.js';

const FLAGS = {
  ...ROOT_FLAG,
  ca: { type: 'boolean' as const, help: 'renew the CA too, even when it is not due (clients must then trust the new CA)' },
};

export const renewCerts: Command = {
  name: 'renew-certs',
  summary: 'replace the auto-generated server certificate (and the CA when it is due)',
  usage: usage(
    [
      'Usage: harper-tls renew-certs [--root DIR] [--ca]',
      '',
      'Replaces the certificates harper-tls generated in <root>/keys/. Files you supplied or replaced are',
      'never touched. The CA key is kept unless the CA expires within 30 days or --ca is given.',
      'A running server picks the new files up without a restart.',
    ],
    FLAGS,
    formatFlags,
  ),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    const result = await renewSelfSignedCertificates({ keysDir: keysDir(rootPath(ctx, flags)), renewCa: flags.ca === true });
    for (const line of describeRenewal(result)) ctx.stdout(`${line}\n`);
    ctx.stdout('Successfully renewed self-signed certificates\n');
    return 0;
  },
};

function describeRenewal(result: unknown): string[] {
  const r = result as { renewed?: string[]; skipped?: Array<{ file: string; reason: string }> } | undefined;
  const out: string[] = [];
  for (const f of r?.renewed ?? []) out.push(`renewed ${f}`);
  for (const s of r?.skipped ?? []) out.push(`kept ${s.file}: ${s.reason}`);
  return out;
}
