import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MtlsConfig } from '@harper-tls/config';
import { usernameFromCertificate } from '@harper-tls/mtls-auth';
import { CertificateRegistry, createLogger, fileKeyStore, hostMatches, runtimeKeysDir, type TlsMaterial } from '@harper-tls/server';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { progressFor } from '../progress.js';
import { checkChain } from '../doctor/chain.js';
import { Report, subjectOf, issuerOf, isoTime } from '../doctor/report.js';
import { checkRevocation } from '../doctor/revocation.js';
import { openStores } from '../doctor/stores.js';
import { CONFIG_FLAG, loadExistingConfig, ROOT_FLAG, usage } from './common.js';
import { readCertificates } from './files.js';
import { readForwarded } from '../doctor/forwarded.js';
import { DOCTOR_EXIT } from '../doctor/report.js';
import { explainPath, normalizePath } from '../doctor/application.js';

export { DOCTOR_EXIT } from '../doctor/report.js';

const FLAGS = {
  ...ROOT_FLAG,
  ...CONFIG_FLAG,
  cert: { type: 'string' as const, valueName: 'FILE', help: 'the client certificate (PEM or DER; extra PEM blocks are its intermediates)' },
  forwarded: { type: 'string' as const, valueName: 'VALUE|@FILE', help: "instead of --cert: a trusted proxy's forwarded-certificate header value (or @FILE holding it), decoded as the server does; a value that starts with -- needs the --forwarded=VALUE form" },
  format: { type: 'string' as const, valueName: 'FORMAT', help: 'with --forwarded: xfcc, pem-urlencoded or der-base64 (default: http.mtls.forwardedCertificate.format)' },
  api: { type: 'string' as const, valueName: 'app|operations', help: 'which HTTPS listener to ask about (default: app)' },
  servername: { type: 'string' as const, valueName: 'NAME', help: 'the SNI name the client sends (picks the tls entry and so its CAs; default: none, so the default entry)' },
  path: { type: 'string' as const, valueName: 'PATH', help: 'a request path: which applications entry serves it and whether the certificate\'s user may use it (alone, without --cert: the route only)' },
  at: { type: 'string' as const, valueName: 'ISO', help: 'judge validity and revocation as of this time instead of now (e.g. 2026-12-31 or 2026-12-31T12:00:00Z; UTC unless a zone is given)' },
};

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** `--at`: an ISO 8601 date (midnight UTC) or date and time (UTC unless it has a zone). */
export function parseAt(value: string): Date {
  const bad = () => new CliError(`--at must be an ISO 8601 date or time such as 2026-12-31 or 2026-12-31T12:00:00Z; got "${value}"`);
  const m = ISO_TIME.exec(value.trim());
  if (!m) throw bad();
  const [, y, mo, d, h, mi, sec, zone] = m;
  const daysInMonth = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > daysInMonth) throw bad();
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 59)) throw bad();
  let text = value.trim().replace(' ', 'T');
  if (h !== undefined && !zone) text += 'Z';
  else if (zone && /^[+-]\d{4}$/.test(zone)) text = text.slice(0, -zone.length) + `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw bad();
  return at;
}

const EMPTY_CERTIFICATE_STORE = { get: async () => undefined, put: async () => {}, remove: async () => {}, list: async () => [] };

export const doctor: Command = {
  name: 'doctor',
  summary: 'explain whether the configured server would accept a client certificate, and as whom',
  usage: usage(
    [
      'Usage: harper-tls doctor --cert FILE [--root DIR] [--config FILE] [--api app|operations] [--servername NAME] [--at ISO] [--path PATH]',
      '       harper-tls doctor --forwarded VALUE|@FILE [--format xfcc|pem-urlencoded|der-base64] [--path PATH] [--root DIR] ...',
      '       harper-tls doctor --path PATH [--root DIR] [--config FILE]',
      '',
      'Walks the checks the server makes on a client certificate, in its order: trust chain against',
      'the configured CAs, validity, key usage, revocation (CRL/OCSP, with the source of the answer;',
      "the server's CRL cache is used as the server would), identity mapping (mtls.user), and whether",
      'that user exists and is active. Reads only: it never writes the configuration or the stores,',
      'and it can run while the server runs.',
      '',
      '--servername picks the tls entry (and so the trusted CAs) as the server does for the SNI name a',
      'client sends: an exact host first, then the longest matching *.wildcard, else the default entry.',
      '--at asks about another time ("still accepted next month?", "accepted last week?"): validity',
      'and revocation are judged as of that time (the revocation status is today\'s, said so, when no',
      'CRL at hand covers that time); the configuration, the users and the CAs are today\'s.',
      '',
      '--forwarded asks about a certificate a trusted proxy forwards in http.mtls.forwardedCertificate\'s',
      'header (nginx, HAProxy, Envoy, AWS ALB): the value is decoded by the server\'s own decoder, then',
      'judged exactly as a handshake certificate (application API, plain or HTTPS port).',
      '',
      '--path names a request path: the applications entry that serves it (longest prefix), its auth and',
      'roles, and whether the certificate\'s user may use it (a role outside roles is a rejection: 403).',
      '',
      'On a cluster node\'s root (cluster in the configuration) the users, run-time certificates and CAs,',
      "the local CA's records and the revocation cache are read from the cluster engine (one read-only",
      'snapshot, over the node\'s mTLS settings), not from the local store.',
      '',
      'Exit 0 when the certificate would be accepted, 2 when it would be rejected, 1 on bad input, 3 when',
      'the cluster engine did not answer within 5 s (the local checks are shown, and those of the node\'s',
      'last-known state when it has one; the verdict needs the engine).',
    ],
    FLAGS,
    formatFlags,
  ),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"; the certificate is given as --cert FILE`);
    const reqPath = flags.path !== undefined ? normalizePath(String(flags.path)) : undefined;
    if (!flags.cert && flags.forwarded === undefined && reqPath !== undefined) {
      const config = await loadExistingConfig(ctx, flags);
      const report = new Report();
      const app = explainPath(report, config, reqPath);
      if (app && app.auth !== 'none') report.say('info', `a request needs ${app.auth === 'required' ? 'an authenticated user' : 'no user, but presented credentials must be valid'} (give --cert FILE to check a certificate's user)`);
      return report.finish(ctx.stdout, { required: false, api: 'app', route: true });
    }
    if (flags.cert && flags.forwarded !== undefined) throw new CliError('give either --cert FILE or --forwarded VALUE, not both');
    if (!flags.cert && flags.forwarded === undefined) throw new CliError('--cert FILE is required (the client certificate to explain), --forwarded VALUE for a certificate a proxy forwards, or --path PATH alone for the route');
    if (flags.format !== undefined && flags.forwarded === undefined) throw new CliError('--format goes with --forwarded');
    const api = (flags.api as string | undefined) ?? 'app';
    if (api !== 'app' && api !== 'operations') throw new CliError(`--api must be "app" or "operations"; got "${api}"`);
    if (flags.forwarded !== undefined && api !== 'app') throw new CliError('--forwarded: forwarded certificates are read on the application API only (http.mtls.forwardedCertificate)');
    const at = flags.at !== undefined ? parseAt(String(flags.at)) : undefined;
    const config = await loadExistingConfig(ctx, flags);
    let certs: X509Certificate[];
    let forwarded: ReturnType<typeof readForwarded> | undefined;
    if (flags.forwarded !== undefined) {
      forwarded = readForwarded(config, String(flags.forwarded), flags.format as string | undefined);
      if (forwarded.refused) {
        ctx.stdout(`Forwarded:   ${forwarded.format} value, as a trusted proxy would send it\n\n✘ decoding: ${forwarded.refused}\n\nREJECTED: the server answers ${forwarded.refused.split(':')[0]}.\n`);
        return DOCTOR_EXIT.rejected;
      }
      certs = forwarded.certificates;
    } else {
      const certFile = flags.cert as string;
      try {
        certs = readCertificates(certFile, '--cert').map((d) => new X509Certificate(d));
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(`--cert ${certFile}: not a certificate (neither a PEM "BEGIN CERTIFICATE" block nor DER X.509)`);
      }
    }
    const [leaf, ...presented] = certs as [X509Certificate, ...X509Certificate[]];
    const servername = flags.servername as string | undefined;
    const mtlsKey = api === 'app' ? 'http.mtls' : 'operationsApi.network.mtls';
    const mtls: MtlsConfig | false = api === 'app' ? config.http.mtls : config.operationsApi.network.mtls;
    const securePort = api === 'app' ? config.http.securePort : config.operationsApi.network.securePort;

    ctx.stdout(`Certificate: ${subjectOf(leaf)} (serial ${leaf.serialNumber.toLowerCase()}, issued by ${issuerOf(leaf)})\n`);
    const noFile = existsSync(config.configPath) ? '' : ' (no such file: the defaults apply; has the server been started with this root?)';
    ctx.stdout(`Server:      ${config.configPath}${noFile}, ${api === 'app' ? 'application' : 'Operations'} API${securePort !== null ? ` (HTTPS port ${securePort})` : ''}\n`);
    if (at) ctx.stdout(`At:          ${isoTime(at)} (--at: validity and revocation are judged as of this time, not now)\n`);
    ctx.stdout('\n');

    const report = new Report(at);
    if (forwarded) {
      const f = mtls ? mtls.forwardedCertificate : undefined;
      if (!f) report.fail('listener', `the server reads no forwarded certificate (${mtlsKey}.forwardedCertificate is not configured)`);
      else if (f.format !== forwarded.format) report.fail('listener', `the server reads the ${f.format} format (${mtlsKey}.forwardedCertificate.format), not ${forwarded.format}`);
      else report.say('ok', `forwarded certificate: header ${f.header} (${f.format}) from http.trustedProxies ${config.http.trustedProxies.join(', ')}; decoded to ${certs.length} certificate${certs.length > 1 ? 's' : ''}, judged as a handshake certificate`);
      if (report.rejected || mtls === false) return report.finish(ctx.stdout, { required: false, api });
    } else if (securePort === null) report.fail('listener', `no HTTPS listener: ${api === 'app' ? 'http.securePort' : 'operationsApi.network.securePort'} is null, so no client certificate is ever read`);
    else if (mtls === false) report.fail('listener', `mTLS is off on this listener (${mtlsKey}: false): the server does not ask for a client certificate`);
    if (report.rejected || mtls === false) return report.finish(ctx.stdout, { required: false, api });
    report.say('ok', `mTLS is on (${mtlsKey}), ${mtls.required ? 'required: a handshake without a trusted certificate fails' : 'optional: a client without a trusted certificate may still use Basic or JWT'}`);

    const stores = await openStores(config.rootPath, config.storage.path, config);
    try {
      if (stores.unreachable && stores.lastKnown) {
        report.undetermined(
          `cluster: ${stores.unreachable}; the checks below use this node's last-known state instead (${stores.lastKnown}), what the node serves while the engine is away`,
          `the cluster engine could not be read (${stores.unreachable})`,
        );
      } else if (stores.unreachable) {
        report.undetermined(
          `cluster: ${stores.unreachable}; the users, run-time certificates and CAs, the local CA's records and the revocation cache are there, so the checks that need them are not made (the chain is checked against the configured CAs only)`,
          `the cluster engine could not be read (${stores.unreachable})`,
        );
      }
      const noShared = stores.unreachable !== undefined && stores.lastKnown === undefined;
      // 1. Trust chain, CA flags, validity, key usage: the CAs of the entry SNI picks, run-time CAs included.
      const certificateStore = stores.certificates ?? EMPTY_CERTIFICATE_STORE;
      const registry = new CertificateRegistry({ store: certificateStore, keys: fileKeyStore(runtimeKeysDir(config.rootPath), { readOnly: true }), sealer: stores.sealer, logger: createLogger({ level: 'silent' as never, destination: { write: () => {} } }), appTls: config.tls, operationsTls: config.operationsApi.tls });
      await registry.init();
      const contexts = registry.contexts(api === 'app' ? 'https' : 'operations-api');
      const runtimeCas = new Set((contexts.material.extraBundle?.certs ?? []).map((c) => c.fingerprint256));
      const entry = describeEntry(contexts.material, contexts.indexFor(servername), servername);
      if (entry.line) report.say('info', entry.line);
      const caKey = `${entry.configKey}.certificateAuthority`;
      const { path, anchor } = checkChain(report, {
        leaf,
        presented,
        trusted: contexts.trustedCas(servername),
        origin: (c) => (runtimeCas.has(c.fingerprint256) ? 'added at run time with add_certificate' : caKey),
        caKey,
        servername,
        now: at ?? new Date(),
        at,
      });

      // 2. Revocation: after the chain, before the user (a revoked certificate is refused even with credentials).
      if (!mtls.certificateVerification) report.say('info', `revocation: not checked (${mtlsKey}.certificateVerification is off)`);
      else if (!anchor) report.say('skip', 'revocation: not checked (it needs a trusted chain)');
      else if (noShared) report.say('skip', "revocation: not checked (the local CA's records and the revocation cache are in the cluster engine, which did not answer)");
      else await checkRevocation(report, { config, verification: mtls.certificateVerification, localCaStore: stores.localCa, revocationStore: stores.revocation, path, anchor, progress: progressFor(ctx), at });

      // 3. Identity (mtls.user), then the user in the store.
      let username: string | undefined;
      if (mtls.user.kind === 'none') report.say('info', `identity: ${mtlsKey}.user is null: the certificate names no user, so requests also need Basic or JWT credentials`);
      else if (mtls.user.kind === 'fixed') {
        username = mtls.user.username;
        report.say('ok', `identity: every mTLS client is the user "${username}" (${mtlsKey}.user), whatever its CN`);
      } else {
        username = usernameFromCertificate(new Uint8Array(leaf.raw));
        if (username === undefined) report.fail('identity', `identity: the username is the subject CN, but this subject (${subjectOf(leaf) || 'empty'}) has none, several, or one that cannot be read`, 'the certificate names no user (no single readable CN)');
        else report.say('ok', `identity: the subject CN is "${username}"`);
      }
      let role: string | undefined;
      if (username !== undefined) {
        const user = await stores.users?.get(username);
        if (noShared) report.say('skip', `user: "${username}" not checked (the users are in the cluster engine, which did not answer)`);
        else if (!stores.users) report.fail('identity', `user: there is no user store yet (${stores.usersWhere}); start the server once`, `user "${username}" does not exist`);
        else if (!user) report.fail('identity', `user: "${username}" does not exist; create it with the add_user operation`, `user "${username}" does not exist`);
        else if (!user.active) report.fail('identity', `user: "${username}" exists but is not active; enable it with alter_user (active: true)`, `user "${username}" is not active`);
        else {
          role = user.role;
          report.say('ok', `user: "${username}" exists and is active, role ${user.role}`);
        }
      }
      if (reqPath !== undefined && api === 'app') explainPath(report, config, reqPath, username !== undefined && role !== undefined ? { username, role } : undefined);
      return report.finish(ctx.stdout, { required: mtls.required, username, role, api });
    } finally {
      await stores.close();
    }
  },
};

/**
 * Which tls entry answers `servername` (the context set's own choice, `index`), in words, and the
 * config key of its CAs. Run-time server certificates trust the default entry's CAs.
 */
function describeEntry(material: TlsMaterial, index: number, servername: string | undefined): { line?: string; configKey: string } {
  const chosen = material.entries[index]!;
  const fallback = material.entries[material.defaultIndex]!;
  const hosts = (e: { hosts: string[] }) => (e.hosts.length ? `host${e.hosts.length > 1 ? 's' : ''} ${e.hosts.join(', ')}` : 'no host names');
  const isDefault = index === material.defaultIndex;
  const configKey = index < material.defaultIndex ? fallback.name : chosen.name;
  if (!servername) {
    if (material.entries.length < 2) return { configKey };
    return { configKey, line: `tls entry: ${chosen.name} (${hosts(chosen)}), the default: no --servername given, as for a client that sends no SNI name` };
  }
  if (index < material.defaultIndex) return { configKey, line: `tls entry: the run-time certificate "${chosen.name}" (${hosts(chosen)}) for servername ${servername}; it trusts the CAs of the default entry ${fallback.name}` };
  const matched = chosen.hosts.some((h) => hostMatches(h, servername));
  if (isDefault && !matched) return { configKey, line: `tls entry: no entry has the host ${servername}, so the default ${chosen.name} (${hosts(chosen)})` };
  return { configKey, line: `tls entry: ${chosen.name} (${hosts(chosen)}) for servername ${servername}${isDefault ? ' (the default entry)' : ''}` };
}
