import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HarperConfig } from '@harper-tls/config';
import { runWorkers, type Logger } from '@harper-tls/server';
import { claimClusterNodeName } from '@harper-tls/store';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';

/** The CLI entry each worker runs: dist/cli.js next to this bundle, or the built one from the sources. */
export function cliEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [join(here, 'cli.js'), join(here, '..', 'cli.js'), join(here, '..', '..', 'dist', 'cli.js')]) if (existsSync(c)) return c;
  throw new CliError(`threads.count > 1 needs the built CLI (dist/cli.js) to start its workers; run pnpm build (looked next to ${here})`);
}

/**
 * `harper-tls start` with `threads.count` > 1 (SPEC.md section 8): this process is the primary;
 * its workers run this same start command and serve every listener on the same ports. Prints
 * what a single-process start prints (from worker 0), waits for SIGINT/SIGTERM and drains them all.
 */
export async function startWorkers(
  ctx: CommandContext,
  config: HarperConfig,
  logger: Logger,
  listeningText: (l: { address: string; port: number; url: string }) => string,
  reopenLog?: () => Promise<void>,
): Promise<number> {
  // Several nodes: the primary holds cluster.nodeName for all its workers (unique in a cluster).
  let claim: { close(): Promise<void> } | undefined;
  try {
    claim = config.cluster ? await claimClusterNodeName({ cluster: config.cluster, logger: logger.child({ process: 'primary' }) }) : undefined;
  } catch (err) {
    throw new CliError(`cluster: ${(err as Error).message}`);
  }
  try {
    return await serve(ctx, config, logger, listeningText, reopenLog);
  } finally {
    await claim?.close();
  }
}

async function serve(
  ctx: CommandContext,
  config: HarperConfig,
  logger: Logger,
  listeningText: (l: { address: string; port: number; url: string }) => string,
  reopenLog?: () => Promise<void>,
): Promise<number> {
  const pool = await runWorkers({
    count: config.threads.count,
    exec: cliEntry(),
    args: ['start', ...ctx.argv],
    env: ctx.env,
    logger: logger.child({ process: 'primary' }),
    // The primary alone rotates hdb.log; every worker reopens it after a rotation.
    ...(reopenLog ? { log: { logging: config.logging, reopen: reopenLog } } : {}),
  });
  const first = pool.first as { listening: Array<{ name: string; address: string; port: number; url: string }>; generatedAdminPassword?: string; expiringSoon?: Array<{ name: string; subject: string; validTo: string }> };
  if (first.generatedAdminPassword) {
    ctx.stdout(`Created user "${ctx.env.HDB_ADMIN_USERNAME || 'admin'}" (super_user) with password: ${first.generatedAdminPassword}\n(shown once; change it with the alter_user operation)\n`);
  }
  for (const e of first.expiringSoon ?? []) ctx.stderr(`warning: certificate ${e.name} (${e.subject}) expires on ${e.validTo}; run harper-tls renew-certs or replace it\n`);
  for (const l of first.listening) ctx.stdout(`${l.name.padEnd(17)} listening on ${listeningText(l)}\n`);
  ctx.stdout(`serving with ${config.threads.count} workers (threads.count): pids ${pool.workers().map((w) => w.pid).join(', ')}\n`);
  const signal = await ctx.stopSignal;
  ctx.stdout(`Received ${signal}, stopping\n`);
  await pool.close();
  return 0;
}
