import { renewSelfSignedCertificates, type RenewResult } from '@harper-tls/cert-gen';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { KEY_TYPE_FLAG, keyLabel, keysDir, keyTypeFlag, ROOT_FLAG, rootPath, usage } from './common.js';
import { progressFor } from '../progress.js';

const FLAGS = {
  ...ROOT_FLAG,
  ca: { type: 'boolean' as const, help: 'renew the CA too, even when it is not due (clients must then trust the new CA)' },
  ...KEY_TYPE_FLAG,
};

export const renewCerts: Command = {
  name: 'renew-certs',
  summary: 'replace the auto-generated server certificate (and the CA when it is due)',
  usage: usage(
    [
      'Usage: harper-tls renew-certs [--root DIR] [--ca] [--key-type TYPE]',
      '',
      'Replaces the certificates harper-tls generated in <root>/keys/. Files you supplied or replaced are',
      'never touched. The CA key is kept unless the CA expires within 30 days or --ca is given.',
      'A running server picks the new files up without a restart. When nothing was renewed (every file',
      'is yours, or cannot be reissued), it says so with the reasons and exits 0.',
    ],
    FLAGS,
    formatFlags,
  ),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    const keyType = keyTypeFlag(flags);
    const result = await progressFor(ctx).run(keyLabel(keyType, 'the renewed certificates', true), () => renewSelfSignedCertificates({ keysDir: keysDir(rootPath(ctx, flags)), renewCa: flags.ca === true, keyType }));
    for (const line of describeRenewal(result)) ctx.stdout(`${line}\n`);
    // SPEC's success line only when something was renewed. Nothing to renew (the files are the
    // user's own, or nothing here can sign them) is not an error: exit 0, with the reasons above.
    if (result.renewed.length) ctx.stdout('Successfully renewed self-signed certificates\n');
    else ctx.stdout(`Nothing renewed${result.skipped.length ? ': every file above was kept' : ''}\n`);
    return 0;
  },
};

function describeRenewal(r: RenewResult): string[] {
  const out: string[] = [];
  for (const f of r.renewed) out.push(`renewed ${f}`);
  for (const s of r.skipped) out.push(`kept ${s.file}: ${s.reason}`);
  return out;
}
