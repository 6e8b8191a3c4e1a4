import { join } from 'node:path';
import { ConfigError, formatIssue, loadConfig, validateTlsMaterial, type HarperConfig } from '@harper-tls/config';
import { ensureSelfSignedCertificates } from '@harper-tls/cert-gen';
import { createLogger, startHarper } from '@harper-tls/server';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CONFIG_FLAG, KEY_TYPE_FLAG, keyLabel, keyTypeFlag, ROOT_FLAG, rootPath, usage } from './common.js';
import { progressFor } from '../progress.js';
import { guardProcess } from '../process-guard.js';

const FLAGS = { ...ROOT_FLAG, ...CONFIG_FLAG, ...KEY_TYPE_FLAG };

function usesDefaultFiles(config: HarperConfig): boolean {
  return [...config.tls, ...config.operationsApi.tls].some((e) => [e.certificate, e.privateKey, e.certificateAuthority].some((s) => s?.isDefault));
}

export const start: Command = {
  name: 'start',
  summary: 'start the servers (the default command)',
  usage: usage(
    [
      'Usage: harper-tls [start] [--root DIR] [--config FILE] [--key-type TYPE] [--KEY VALUE]...',
      '',
      'Starts the application server and the Operations API. On first start it creates the root,',
      'the configuration, a self-signed CA and server certificate in <root>/keys/ and the admin user',
      '(HDB_ADMIN_USERNAME / HDB_ADMIN_PASSWORD, else "admin" with a generated password printed once).',
      'Any configuration key can be given as --KEY VALUE, e.g. --HTTP_SECUREPORT 9927.',
      '--key-type applies only when the CA and server certificate are generated (first start, or repair).',
    ],
    FLAGS,
    formatFlags,
  ),
  async run(ctx) {
    const { flags, positionals, overrides } = parseArgs(ctx.argv, FLAGS, true);
    if (positionals.length) throw new ConfigError([{ key: positionals[0]!, source: 'cli', message: `unexpected argument "${positionals[0]}"; configuration values are given as --KEY VALUE` }]);
    const keyType = keyTypeFlag(flags);
    const root = rootPath(ctx, flags);
    const { config, warnings, created } = await loadConfig({ root, configFile: flags.config as string | undefined, overrides, env: ctx.env, homedir: ctx.homedir });
    if (created) ctx.stdout(`Created configuration ${config.configPath}\n`);
    for (const w of warnings) ctx.stderr(`warning: ${formatIssue(w)}\n`);
    if (usesDefaultFiles(config)) {
      const result = await progressFor(ctx).run(keyLabel(keyType, 'the self-signed CA and server certificate', true), () => ensureSelfSignedCertificates({ keysDir: join(config.rootPath, 'keys'), keyType }));
      if (result.recovered.length) ctx.stdout(`Finished an interrupted replacement of ${result.recovered.join(', ')} (renew-certs was stopped midway; the new set is complete)\n`);
      if (result.repaired.length) ctx.stdout(`Regenerated ${result.repaired.join(', ')}: an interrupted renew-certs had left them not matching\n`);
      else if (result.generated) ctx.stdout(`Generated a self-signed CA and server certificate in ${join(config.rootPath, 'keys')}\n`);
    }
    const issues = validateTlsMaterial(config);
    if (issues.length) throw new ConfigError(issues);

    const logger = createLogger({ level: config.logging.level });
    const unguard = guardProcess(logger);
    try {
      const instance = await startHarper({ config, logger, admin: { username: ctx.env.HDB_ADMIN_USERNAME, password: ctx.env.HDB_ADMIN_PASSWORD } });
      if (instance.generatedAdminPassword) {
        ctx.stdout(`Created user "${ctx.env.HDB_ADMIN_USERNAME ?? 'admin'}" (super_user) with password: ${instance.generatedAdminPassword}\n(shown once; change it with the alter_user operation)\n`);
      }
      for (const e of instance.expiringSoon) ctx.stderr(`warning: certificate ${e.name} (${e.subject}) expires on ${e.validTo}; run harper-tls renew-certs or replace it\n`);
      for (const l of instance.listening) ctx.stdout(`${l.name.padEnd(17)} listening on ${l.url}\n`);
      const signal = await ctx.stopSignal;
      ctx.stdout(`Received ${signal}, stopping\n`);
      await instance.close();
      return 0;
    } finally {
      unguard();
    }
  },
};
