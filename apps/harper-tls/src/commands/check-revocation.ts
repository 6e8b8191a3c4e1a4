import { buildPath, createRevocationChecker, normalizeChain, parseCrl, type RevocationVerdict } from '@harper-tls/revocation';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { ROOT_FLAG, usage } from './common.js';
import { readCertificates, readUserFile } from './files.js';
import { defaultVerificationConfig } from './verification-defaults.js';
import { progressFetch, progressFor } from '../progress.js';

const FLAGS = {
  ...ROOT_FLAG,
  cert: { type: 'string' as const, valueName: 'FILE', help: 'the certificate to check (PEM or DER; extra PEM blocks are its chain)' },
  chain: { type: 'string' as const, valueName: 'FILE', multiple: true, help: 'issuer certificates, the trust anchor last; others given are offered as CRL signers' },
  crl: { type: 'string' as const, valueName: 'FILE', multiple: true, help: 'a CRL to use (DER or PEM)' },
  at: { type: 'string' as const, valueName: 'ISO', help: 'check as of this time (e.g. 2026-01-31T00:00:00Z)' },
  'no-fetch': { type: 'boolean' as const, help: 'do not download CRLs or ask OCSP responders; use only --crl files' },
  json: { type: 'boolean' as const, help: 'print the verdict as JSON' },
};

export const EXIT = { good: 0, badInput: 1, revoked: 2, unknown: 3 } as const;

export const checkRevocation: Command = {
  name: 'check-revocation',
  summary: 'check the revocation status of a certificate and its chain (CRL, then OCSP)',
  usage: usage(
    [
      'Usage: harper-tls check-revocation --cert FILE [--chain FILE]... [--crl FILE]... [--at ISO] [--no-fetch] [--json]',
      '',
      'Exit codes: 0 good, 2 revoked, 3 undetermined, 1 bad input.',
    ],
    FLAGS,
    formatFlags,
  ),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    if (!flags.cert) throw new CliError('--cert FILE is required');
    const chain = [...readCertificates(flags.cert as string, '--cert'), ...((flags.chain as string[] | undefined) ?? []).flatMap((f) => readCertificates(f, '--chain'))];
    if (chain.length < 2) throw new CliError(`--cert ${flags.cert} holds one certificate: give its issuer, up to the trust anchor, with --chain FILE (or append them to the --cert file)`);
    const crls = ((flags.crl as string[] | undefined) ?? []).map((f) => {
      const bytes = new Uint8Array(readUserFile(f, '--crl'));
      try {
        parseCrl(bytes);
      } catch (err) {
        throw new CliError(`--crl ${f}: not a CRL (${(err as Error).message.replace(/^not a valid CRL: /, '')})`);
      }
      return bytes;
    });
    let at: Date | undefined;
    if (flags.at !== undefined) {
      at = new Date(String(flags.at));
      if (Number.isNaN(at.getTime())) throw new CliError(`--at must be an ISO 8601 time such as 2026-01-31T00:00:00Z; got "${flags.at}"`);
    }
    const { path, crlSigners } = orderChain(chain);
    const checker = createRevocationChecker({ config: defaultVerificationConfig(), crls, fetch: progressFetch(progressFor(ctx)) });
    let verdict: RevocationVerdict;
    try {
      verdict = await checker.check(path, { at, noFetch: flags['no-fetch'] === true, crlSigners });
    } finally {
      await checker.close();
    }
    if (flags.json) ctx.stdout(`${JSON.stringify(verdict, null, 2)}\n`);
    else ctx.stdout(describeVerdict(verdict));
    return verdict.status === 'good' ? EXIT.good : verdict.status === 'revoked' ? EXIT.revoked : EXIT.unknown;
  },
};

/**
 * The path from the leaf (first) to the anchor (last) through the certificates given in between, in
 * any order; certificates off that path (a separate CRL-signing key, an indirect CRL issuer) become
 * CRL signer candidates. When no path reaches the anchor, the order given is kept and the checker
 * reports the break.
 */
function orderChain(given: Uint8Array[]): { path: Uint8Array[]; crlSigners: Uint8Array[] } {
  if (given.length < 3) return { path: given, crlSigners: [] };
  const infos = normalizeChain(given);
  const { path, anchor } = buildPath(infos[0]!, infos.slice(1, -1), [infos[infos.length - 1]!]);
  if (!anchor) return { path: given, crlSigners: [] };
  const onPath = new Set(path.map((c) => infos.indexOf(c)));
  return { path: path.map((c) => given[infos.indexOf(c)]!), crlSigners: given.filter((_, i) => !onPath.has(i)) };
}

export function describeVerdict(v: RevocationVerdict): string {
  const lines = v.certificates.map((c) => {
    const how = [c.method, c.source, c.cache ? `cache ${c.cache}` : undefined, `${Math.round(c.ms)} ms`].filter(Boolean).join(', ');
    const reason = c.reason ? ` (${c.reason})` : '';
    const errors = c.errors.length ? `\n    ${c.errors.join('\n    ')}` : '';
    return `${c.subject} [serial ${c.serialHex}]: ${c.status}${reason}${how ? ` — ${how}` : ''}${errors}`;
  });
  return `${lines.join('\n')}\nResult: ${v.status}\n`;
}
