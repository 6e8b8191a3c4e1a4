import { join } from 'node:path';
import { ConfigError, formatIssue, loadConfig, validateTlsMaterial, type HarperConfig } from '@harper-tls/config';
import { ensureSelfSignedCertificates } from '@harper-tls/cert-gen';
import { connectPeers, openLog, startHarper } from '@harper-tls/server';
import { startWorkers } from './workers.js';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CONFIG_FLAG, KEY_TYPE_FLAG, keyLabel, keyTypeFlag, ROOT_FLAG, rootPath, usage } from './common.js';
import { progressFor } from '../progress.js';
import { guardProcess } from '../process-guard.js';

const FLAGS = { ...ROOT_FLAG, ...CONFIG_FLAG, ...KEY_TYPE_FLAG };

/**
 * The address a listener really bound, as a URL: `https://[::]:9927/ (all interfaces, e.g.
 * https://localhost:9927/)` when it listens everywhere, never a localhost that would suggest
 * it is reachable from this machine only.
 */
export function listeningText(l: { address: string; port: number; url: string }): string {
  if (l.url.startsWith('unix:')) return l.url; // the domain socket: its path, no host or port
  const scheme = l.url.slice(0, l.url.indexOf(':'));
  if (scheme === 'unix') return l.url;
  const bound = `${scheme}://${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}/`;
  return l.address === '::' || l.address === '0.0.0.0' ? `${bound} (all interfaces, e.g. ${l.url})` : bound;
}

function usesDefaultFiles(config: HarperConfig): boolean {
  return [...config.tls, ...config.operationsApi.tls].some((e) => [e.certificate, e.privateKey, e.certificateAuthority].some((s) => s?.isDefault));
}

/** SPEC.md section 11: the Harper keys harper-tls does not use, named once at start (output and log). */
export function ignoredHarperKeysLine(config: HarperConfig): string | undefined {
  return config.ignoredHarperKeys.length ? `ignored Harper keys (not used by harper-tls): ${config.ignoredHarperKeys.join(', ')}` : undefined;
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
      '(HDB_ADMIN_USERNAME / HDB_ADMIN_PASSWORD, else "admin" with a generated password printed once; empty is unset).',
      'Any configuration key can be given as --KEY VALUE, e.g. --HTTP_SECUREPORT 9927.',
      '--key-type applies only when the CA and server certificate are generated (first start, or repair).',
    ],
    FLAGS,
    formatFlags,
  ),
  async run(ctx) {
    // A worker of a multi-worker server (SPEC.md section 8): the same start, quiet (the primary prints).
    const peers = await connectPeers();
    if (peers) ctx = { ...ctx, stdout: () => undefined };
    const { flags, positionals, overrides } = parseArgs(ctx.argv, FLAGS, true);
    if (positionals.length) throw new ConfigError([{ key: positionals[0]!, source: 'cli', message: `unexpected argument "${positionals[0]}"; configuration values are given as --KEY VALUE` }]);
    const keyType = keyTypeFlag(flags);
    const root = rootPath(ctx, flags);
    const { config, warnings, created } = await loadConfig({ root, configFile: flags.config as string | undefined, overrides, env: ctx.env, homedir: ctx.homedir });
    if (created) ctx.stdout(`Created configuration ${config.configPath}\n`);
    for (const w of warnings) ctx.stderr(`warning: ${formatIssue(w)}\n`);
    if (config.authentication.authorizeLocal) {
      ctx.stderr('warning: authentication.authorizeLocal is on: a request from this machine (loopback or the domain socket, not through a proxy) without credentials is the super user\n');
    }
    const ignored = ignoredHarperKeysLine(config);
    if (ignored) ctx.stdout(`${ignored}\n`);
    if (usesDefaultFiles(config)) {
      const result = await progressFor(ctx).run(keyLabel(keyType, 'the self-signed CA and server certificate', true), () => ensureSelfSignedCertificates({ keysDir: join(config.rootPath, 'keys'), keyType }));
      if (result.recovered.length) ctx.stdout(`Finished an interrupted replacement of ${result.recovered.join(', ')} (renew-certs was stopped midway; the new set is complete)\n`);
      if (result.repaired.length) ctx.stdout(`Regenerated ${result.repaired.join(', ')}: an interrupted renew-certs had left them not matching\n`);
      else if (result.generated) ctx.stdout(`Generated a self-signed CA and server certificate in ${join(config.rootPath, 'keys')}\n`);
    }
    const issues = validateTlsMaterial(config);
    if (issues.length) throw new ConfigError(issues);

    // <logging.root>/hdb.log and/or stdout, as Harper (logging.file, logging.stdStreams, logging.rotation).
    // With workers the file is shared: the primary alone rotates it and tells every process to reopen (SPEC.md section 8).
    const log = openLog(config.logging, { shared: peers !== undefined || config.threads.count > 1 });
    peers?.onLogReopen(log.reopen);
    const logger = peers ? log.logger.child({ worker: peers.index }) : log.logger;
    const unguard = guardProcess(logger);
    // At warn, so Harper's default level (warn) keeps it in the log.
    if (ignored) logger.warn({ keys: config.ignoredHarperKeys }, ignored);
    try {
      if (!peers && config.threads.count > 1) return await startWorkers(ctx, config, logger, listeningText, log.reopen);
      const instance = await startHarper({ config, logger, admin: { username: ctx.env.HDB_ADMIN_USERNAME || undefined, password: ctx.env.HDB_ADMIN_PASSWORD || undefined }, peers });
      peers?.ready({ ht: 'ready', listening: instance.listening, generatedAdminPassword: instance.generatedAdminPassword, expiringSoon: instance.expiringSoon });
      if (instance.generatedAdminPassword) {
        ctx.stdout(`Created user "${ctx.env.HDB_ADMIN_USERNAME || 'admin'}" (super_user) with password: ${instance.generatedAdminPassword}\n(shown once; change it with the alter_user operation)\n`);
      }
      for (const e of instance.expiringSoon) ctx.stderr(`warning: certificate ${e.name} (${e.subject}) expires on ${e.validTo}; run harper-tls renew-certs or replace it\n`);
      for (const l of instance.listening) ctx.stdout(`${l.name.padEnd(17)} listening on ${listeningText(l)}\n`);
      const signal = await (peers ? Promise.race([ctx.stopSignal, peers.stopRequested]) : ctx.stopSignal);
      if (peers) logger.info({ signal }, 'worker stopping: in-flight requests finish, then it exits');
      ctx.stdout(`Received ${signal}, stopping\n`);
      await instance.close();
      return 0;
    } finally {
      unguard();
      await log.close();
    }
  },
};
