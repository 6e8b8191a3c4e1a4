import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { issueCertificate, recoverFileGroup, replaceFileGroup, type KeyAndCert } from '@harper-tls/cert-gen';
import { loadAutoCa } from '@harper-tls/server';
import { initClusterSchema } from '@harper-tls/store';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { CONFIG_FLAG, keysDir, loadExistingConfig, rootPath, ROOT_FLAG, usage } from './common.js';

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const INIT_FLAGS = { ...ROOT_FLAG, ...CONFIG_FLAG };

/** `harper-tls cluster init`: the schema in the engine of this node's `cluster.url` (idempotent). */
export const clusterInit: Command = {
  name: 'cluster init',
  summary: 'create the shared schema in the cluster engine (PostgreSQL); running it again changes nothing',
  usage: usage(['Usage: harper-tls cluster init [--root DIR]', '', 'Connects with this node\'s cluster settings (mTLS, as the node would) and creates the tables.'], INIT_FLAGS, formatFlags),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, INIT_FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    const config = await loadExistingConfig(ctx, flags);
    if (!config.cluster) throw new CliError(`${config.configPath} has no "cluster" section (cluster.url, cluster.nodeName): see docs/cluster.md`);
    const { created } = await initClusterSchema(config.cluster);
    const e = config.cluster.engine;
    ctx.stdout(created ? `created the harper-tls schema in ${e.database} on ${e.host}:${e.port}\n` : `the harper-tls schema in ${e.database} on ${e.host}:${e.port} is already there; nothing changed\n`);
    return 0;
  },
};

const ISSUE_FLAGS = {
  ...ROOT_FLAG,
  name: { type: 'string' as const, valueName: 'NAME', help: 'the node name (cluster.nodeName): CN of its engine client certificate (required)' },
  out: { type: 'string' as const, valueName: 'DIR', help: 'where to write the files (default <root>/keys)' },
  engine: { type: 'string' as const, valueName: 'HOST', help: 'also issue the engine\'s server certificate engine.pem / engine-key.pem (SAN = HOST, IP or DNS)' },
  days: { type: 'string' as const, valueName: 'N', help: 'validity in days (default 365)' },
  force: { type: 'boolean' as const, help: 'overwrite existing files' },
};

/**
 * `harper-tls cluster issue-node`: from the local CA, without a server or engine running, a node's
 * engine client certificate (cluster-NAME.pem / cluster-NAME-key.pem) and with --engine the
 * engine's server certificate. These are not local CA records (there is no engine yet to keep them).
 */
export const clusterIssueNode: Command = {
  name: 'cluster issue-node',
  summary: 'issue a node\'s engine client certificate (and with --engine the engine\'s server certificate) from the local CA',
  usage: usage(['Usage: harper-tls cluster issue-node --name NAME [--out DIR] [--engine HOST] [--days N]'], ISSUE_FLAGS, formatFlags),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, ISSUE_FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    const name = flags.name as string | undefined;
    if (!name) throw new CliError('--name NAME is required (the node name, cluster.nodeName)');
    if (!NODE_NAME.test(name)) throw new CliError(`--name "${name}": expected 1-63 letters, digits, ".", "_" or "-"`);
    let days: number | undefined;
    if (flags.days !== undefined) {
      days = Number(flags.days);
      if (!Number.isInteger(days) || days <= 0) throw new CliError(`--days must be a whole number of days above 0; got "${flags.days}"`);
    }
    const engine = flags.engine as string | undefined;
    if (engine !== undefined && !/^[A-Za-z0-9.:-]+$/.test(engine)) throw new CliError(`--engine "${engine}": expected a host name or an IP address`);
    const root = rootPath(ctx, flags);
    const ca = loadAutoCa(root);
    if (!ca) throw new CliError(`no local CA in ${keysDir(root)} (ca.pem and ca-privateKey.pem, missing or not a pair); start the first node once to create it, and copy both files to the other nodes (docs/cluster.md)`);
    const out = resolve((flags.out as string | undefined) ?? keysDir(root));
    const groups: Array<{ base: string; make: () => Promise<KeyAndCert> }> = [
      { base: `cluster-${name}`, make: () => issueCertificate({ ca: ca as KeyAndCert, kind: 'client', commonName: name, days }) },
    ];
    if (engine) groups.push({ base: 'engine', make: () => issueCertificate({ ca: ca as KeyAndCert, kind: 'server', commonName: engine, sans: [`${isIP(engine) ? 'IP' : 'DNS'}:${engine}`], days }) });
    for (const g of groups) {
      if (existsSync(out)) recoverFileGroup(out, g.base, [`${g.base}-key.pem`, `${g.base}.pem`]);
      if (!flags.force) for (const f of [`${g.base}.pem`, `${g.base}-key.pem`]) if (existsSync(join(out, f))) throw new CliError(`${join(out, f)} exists; choose another --out or pass --force`);
    }
    for (const g of groups) {
      const issued = await g.make();
      await replaceFileGroup(out, g.base, [
        { name: `${g.base}-key.pem`, data: issued.privateKeyPem, mode: 0o600 },
        { name: `${g.base}.pem`, data: issued.certificatePem, mode: 0o644 },
      ]);
      ctx.stdout(`wrote ${join(out, `${g.base}.pem`)} and ${g.base}-key.pem (serial ${issued.serialHex})\n`);
    }
    return 0;
  },
};
