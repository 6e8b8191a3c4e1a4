import { resolve } from 'node:path';
import { derToPem, writeFileAtomic } from '@harper-tls/cert-gen';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { CONFIG_FLAG, ROOT_FLAG, usage } from './common.js';
import { openLocalCa } from './local-ca.js';

const FLAGS = { ...ROOT_FLAG, ...CONFIG_FLAG, out: { type: 'string' as const, valueName: 'FILE', help: 'write here (DER; a .pem name writes PEM). Default: PEM to standard output' } };

export const crl: Command = {
  name: 'crl',
  summary: "write the local CA's current signed CRL",
  usage: usage(['Usage: harper-tls crl [--out FILE]'], FLAGS, formatFlags),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    const { ca, close } = await openLocalCa(ctx, flags);
    try {
      const der = await ca.crl();
      const out = flags.out as string | undefined;
      if (!out) {
        ctx.stdout(derToPem(der, 'X509 CRL'));
        return 0;
      }
      const path = resolve(out);
      await writeFileAtomic(path, path.endsWith('.pem') ? derToPem(der, 'X509 CRL') : der, { mode: 0o644 });
      ctx.stdout(`Wrote CRL to ${path}\n`);
      return 0;
    } finally {
      await close();
    }
  },
};
