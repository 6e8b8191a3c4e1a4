import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkReason, derToPem, recoverFileGroup, replaceFileGroup } from '@harper-tls/cert-gen';
import { readCertificates } from './files.js';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { CONFIG_FLAG, KEY_TYPE_FLAG, keyLabel, keyTypeFlag, ROOT_FLAG, usage } from './common.js';
import { progressFor } from '../progress.js';
import { openLocalCa } from './local-ca.js';

const ISSUE_FLAGS = {
  ...ROOT_FLAG,
  ...CONFIG_FLAG,
  cn: { type: 'string' as const, valueName: 'NAME', help: 'common name: the username for a client certificate (required)' },
  days: { type: 'string' as const, valueName: 'N', help: 'validity in days (default 365)' },
  san: { type: 'string' as const, valueName: 'LIST', help: 'subject alternative names, e.g. DNS:x,IP:y,email:z,URI:u' },
  server: { type: 'boolean' as const, help: 'issue a server certificate (serverAuth) instead of a client one' },
  out: { type: 'string' as const, valueName: 'DIR', help: 'where to write NAME.pem and NAME-key.pem (default: current directory)' },
  force: { type: 'boolean' as const, help: 'overwrite NAME.pem / NAME-key.pem if they exist' },
  ...KEY_TYPE_FLAG,
};

/** A file name for a CN: anything outside a safe set becomes "_" (a CN may hold "/" or spaces). */
export function fileBase(cn: string): string {
  const safe = cn.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '_');
  return safe.slice(0, 200) || 'certificate';
}

export const certIssue: Command = {
  name: 'cert issue',
  summary: 'issue a client (or --server) certificate from the local CA',
  usage: usage(['Usage: harper-tls cert issue --cn NAME [--days N] [--san DNS:x,IP:y,email:z,URI:u] [--server] [--out DIR] [--key-type TYPE]'], ISSUE_FLAGS, formatFlags),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, ISSUE_FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    const cn = flags.cn as string | undefined;
    if (!cn) throw new CliError('--cn NAME is required');
    let days: number | undefined;
    if (flags.days !== undefined) {
      days = Number(flags.days);
      if (!Number.isInteger(days) || days <= 0) throw new CliError(`--days must be a whole number of days above 0; got "${flags.days}"`);
    }
    const keyType = keyTypeFlag(flags);
    const sans = flags.san ? String(flags.san).split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    const outDir = resolve((flags.out as string | undefined) ?? '.');
    const base = fileBase(cn);
    const certPath = join(outDir, `${base}.pem`);
    const keyPath = join(outDir, `${base}-key.pem`);
    const names = [`${base}-key.pem`, `${base}.pem`];
    // An earlier issue of this name that a crash interrupted is finished first (never a mixed pair).
    if (existsSync(outDir)) recoverFileGroup(outDir, base, names);
    if (!flags.force) for (const p of [certPath, keyPath]) if (existsSync(p)) throw new CliError(`${p} exists; choose another --out or pass --force`);
    const { ca, close } = await openLocalCa(ctx, flags);
    try {
      const issued = await progressFor(ctx).run(keyLabel(keyType, `CN=${cn}`), () => ca.issue({ cn, days, sans, server: flags.server === true, keyType }));
      // The pair as one (key renamed first: a certificate on disk always has its key); a crash
      // leaves a journal that the next `cert issue` of this name finishes.
      await replaceFileGroup(outDir, base, [
        { name: names[0]!, data: issued.privateKeyPem, mode: 0o600 },
        { name: names[1]!, data: issued.certificatePem, mode: 0o644 },
      ]);
      ctx.stdout(`Issued ${flags.server ? 'server' : 'client'} certificate for CN=${cn}, serial ${issued.serialHex}\n  certificate: ${certPath}\n  private key: ${keyPath}\n`);
      return 0;
    } finally {
      await close();
    }
  },
};

const REVOKE_FLAGS = {
  ...ROOT_FLAG,
  ...CONFIG_FLAG,
  serial: { type: 'string' as const, valueName: 'HEX', help: 'serial number of the certificate to revoke' },
  reason: { type: 'string' as const, valueName: 'R', help: 'unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn' },
};

export const certRevoke: Command = {
  name: 'cert revoke',
  summary: 'revoke a certificate issued by the local CA',
  usage: usage(['Usage: harper-tls cert revoke (FILE | --serial HEX) [--reason R]'], REVOKE_FLAGS, formatFlags),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, REVOKE_FLAGS);
    if (positionals.length > 1) throw new CliError(`unexpected argument "${positionals[1]}"`);
    const file = positionals[0];
    if (!file === !flags.serial) throw new CliError('give either a certificate FILE or --serial HEX');
    try {
      checkReason(flags.reason);
    } catch (err) {
      throw new CliError(`--${(err as Error).message}`);
    }
    let target: string;
    if (file) {
      // A PEM or DER certificate file; anything else is a mistake, never read as a serial number.
      const [der] = readCertificates(file, 'FILE');
      target = derToPem(der!, 'CERTIFICATE');
    } else target = String(flags.serial);
    const { ca, close } = await openLocalCa(ctx, flags);
    try {
      // Revoking twice keeps the first record (date and reason): say so, with what it holds.
      const serial = file ? new X509Certificate(target).serialNumber : target;
      let before: Awaited<ReturnType<typeof ca.status>>;
      try {
        before = await ca.status(serial);
      } catch {
        before = undefined; // a malformed serial: revoke says what is wrong with it
      }
      const rec = await ca.revoke(target, flags.reason as never);
      const reason = rec.reason ? ` (${rec.reason})` : '';
      if (before?.status === 'revoked') {
        const ignored = flags.reason && flags.reason !== rec.reason ? `; --reason ${flags.reason} not applied` : '';
        ctx.stdout(`Serial ${rec.serialHex} already revoked on ${rec.revokedAt}${reason}: the record is kept as it was${ignored}\n`);
      } else ctx.stdout(`Revoked serial ${rec.serialHex}${reason}\n`);
      return 0;
    } finally {
      await close();
    }
  },
};

const LIST_FLAGS = { ...ROOT_FLAG, ...CONFIG_FLAG, json: { type: 'boolean' as const, help: 'print JSON' } };

export const certList: Command = {
  name: 'cert list',
  summary: 'list the certificates issued by the local CA',
  usage: usage(['Usage: harper-tls cert list [--json]'], LIST_FLAGS, formatFlags),
  async run(ctx) {
    const { flags } = parseArgs(ctx.argv, LIST_FLAGS);
    const { ca, close } = await openLocalCa(ctx, flags);
    try {
      const list = await ca.list();
      if (flags.json) {
        ctx.stdout(`${JSON.stringify(list, null, 2)}\n`);
        return 0;
      }
      if (list.length === 0) {
        ctx.stdout('No certificates issued yet (harper-tls cert issue --cn NAME)\n');
        return 0;
      }
      const rows = list.map((c) => [c.serialHex, c.cn, new Date(c.notAfter).toISOString().slice(0, 10), c.status + (c.reason ? ` (${c.reason})` : '')]);
      const head = ['SERIAL', 'CN', 'EXPIRES', 'STATUS'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) ctx.stdout(`${r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
      return 0;
    } finally {
      await close();
    }
  },
};
