import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { MtlsConfig } from '@harper-tls/config';
import { createRevocationChecker } from '@harper-tls/revocation';
import { openUserStore, usernameFromCertificate } from '@harper-tls/mtls-auth';
import { CertificateRegistry, createLogger, databaseDir, keyValueStore, openServerDatabase } from '@harper-tls/server';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { CONFIG_FLAG, loadExistingConfig, ROOT_FLAG, usage } from './common.js';
import { readCertificates } from './files.js';

const FLAGS = {
  ...ROOT_FLAG,
  ...CONFIG_FLAG,
  cert: { type: 'string' as const, valueName: 'FILE', help: 'the client certificate (PEM or DER; extra PEM blocks are its chain)' },
  api: { type: 'string' as const, valueName: 'app|operations', help: 'which listener to ask about (default: app)' },
  servername: { type: 'string' as const, valueName: 'NAME', help: 'the SNI name the client would use (picks the tls entry)' },
};

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

interface Step {
  ok: boolean;
  text: string;
}

/** Walks from the leaf to a trusted CA, using the presented chain and the trusted certificates. */
function buildPath(leaf: X509Certificate, presented: X509Certificate[], trusted: X509Certificate[]): { path: X509Certificate[]; anchor?: X509Certificate } {
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth < 10; depth++) {
    const anchor = trusted.find((t) => t.checkIssued(current) && current.verify(t.publicKey));
    if (anchor) return { path, anchor };
    const next = presented.find((p) => p !== current && p.checkIssued(current) && current.verify(p.publicKey));
    if (!next || path.includes(next)) return { path };
    path.push(next);
    current = next;
  }
  return { path };
}

function oneLine(name: string): string {
  return name.replace(/\n/g, ', ');
}

export const doctor: Command = {
  name: 'doctor',
  summary: 'explain whether the configured server would accept a client certificate, and as whom',
  usage: usage(['Usage: harper-tls doctor --cert FILE [--root DIR] [--api app|operations] [--servername NAME]', '', 'Exit 0 when the certificate would be accepted, 2 when it would be rejected, 1 on bad input.'], FLAGS, formatFlags),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"`);
    if (!flags.cert) throw new CliError('--cert FILE is required');
    const api = (flags.api as string | undefined) ?? 'app';
    if (api !== 'app' && api !== 'operations') throw new CliError(`--api must be "app" or "operations"; got "${api}"`);
    const ders = readCertificates(flags.cert as string, '--cert');
    let certs: X509Certificate[];
    try {
      certs = ders.map((d) => new X509Certificate(d));
    } catch (err) {
      throw new CliError(`--cert ${flags.cert}: not a certificate (${(err as Error).message})`);
    }
    const [leaf, ...presented] = certs as [X509Certificate, ...X509Certificate[]];
    const config = await loadExistingConfig(ctx, flags);
    const mtls: MtlsConfig | false = api === 'app' ? config.http.mtls : config.operationsApi.network.mtls;
    const securePort = api === 'app' ? config.http.securePort : config.operationsApi.network.securePort;
    const steps: Step[] = [];
    const say = (ok: boolean, text: string) => steps.push({ ok, text });
    const print = () => {
      for (const s of steps) ctx.stdout(`${s.ok ? '✔' : '✘'} ${s.text}\n`);
    };
    const reject = (why: string) => {
      print();
      ctx.stdout(`\nREJECTED: ${why}\n`);
      return 2;
    };

    ctx.stdout(`Certificate: ${oneLine(leaf.subject)} (serial ${leaf.serialNumber.toLowerCase()}, issuer ${oneLine(leaf.issuer)})\n\n`);
    if (securePort === null) return reject(`the ${api} API has no HTTPS listener (${api === 'app' ? 'http.securePort' : 'operationsApi.network.securePort'} is null), so no client certificate is ever read`);
    if (mtls === false) return reject(`mTLS is off on the ${api} API (${api === 'app' ? 'http.mtls' : 'operationsApi.network.mtls'}: false); a client certificate is not requested`);
    say(true, `mTLS is on for the ${api} API (port ${securePort}), ${mtls.required ? 'required: a handshake without a trusted certificate fails' : 'optional: without a trusted certificate the client may use Basic or JWT'}`);

    const db = openServerDatabase(config.rootPath);
    let users: Awaited<ReturnType<typeof openUserStore>> | undefined;
    try {
      const logger = createLogger({ level: 'error' });
      const registry = new CertificateRegistry({ store: keyValueStore(db.certificates), logger, appTls: config.tls, operationsTls: config.operationsApi.tls });
      await registry.init();
      const trusted = registry.contexts(api === 'app' ? 'https' : 'operations-api').trustedCas(flags.servername as string | undefined);
      if (trusted.length === 0) return reject('no CA is configured for client certificates (tls.certificateAuthority), so no client certificate can be trusted');

      const { path, anchor } = buildPath(leaf, presented, trusted);
      if (!anchor) {
        return reject(`the certificate does not chain to a trusted CA. Trusted: ${trusted.map((t) => oneLine(t.subject)).join('; ')}. Its issuer is ${oneLine(path[path.length - 1]!.issuer)}${presented.length ? '' : ' (if it has intermediates, put them in the --cert file after it)'}`);
      }
      say(true, `chain: ${path.map((c) => oneLine(c.subject)).join(' → ')} → trusted CA ${oneLine(anchor.subject)}`);

      const now = new Date();
      for (const c of [...path, anchor]) {
        const from = new Date(c.validFrom);
        const to = new Date(c.validTo);
        if (now < from) return reject(`${oneLine(c.subject)} is not valid until ${from.toISOString()}`);
        if (now > to) return reject(`${oneLine(c.subject)} expired on ${to.toISOString()}`);
      }
      say(true, `validity: every certificate is valid now (leaf until ${new Date(leaf.validTo).toISOString()})`);

      const eku = leaf.keyUsage;
      if (eku && eku.length && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) {
        return reject(`the certificate's extended key usage (${eku.join(', ')}) does not include clientAuth (${CLIENT_AUTH})`);
      }
      say(true, eku && eku.length ? 'key usage: clientAuth is allowed' : 'key usage: no extended key usage, so any use is allowed');

      let username: string | undefined;
      if (mtls.user.kind === 'none') {
        say(true, 'identity: http.mtls.user is null, so the certificate authenticates no user; the request also needs Basic or JWT credentials');
      } else if (mtls.user.kind === 'fixed') {
        username = mtls.user.username;
        say(true, `identity: every mTLS client is the user "${username}" (mtls.user)`);
      } else {
        const found = usernameFromCertificate(new Uint8Array(leaf.raw));
        if (found === undefined) return reject('identity: the subject must have exactly one CN, which is the username; this one has none or several');
        username = found;
        say(true, `identity: the subject CN is "${username}"`);
      }
      if (username !== undefined) {
        users = await openUserStore({ path: join(databaseDir(config.rootPath), 'users.mdb') });
        const user = await users.get(username);
        if (!user) return reject(`user "${username}" does not exist (add it with the add_user operation)`);
        if (!user.active) return reject(`user "${username}" exists but is not active`);
        say(true, `user "${username}" exists and is active, role ${user.role}`);
      }

      if (!mtls.certificateVerification) {
        say(true, 'revocation: checking is off (certificateVerification: false)');
      } else {
        const checker = createRevocationChecker({ config: mtls.certificateVerification });
        try {
          const verdict = await checker.check([...path.map((c) => new Uint8Array(c.raw)), new Uint8Array(anchor.raw)]);
          for (const c of verdict.certificates) {
            const detail = [c.method, c.source, c.reason].filter(Boolean).join(', ');
            say(c.status === 'good' || verdict.allowed, `revocation of ${c.subject}: ${c.status}${detail ? ` (${detail})` : ''}${c.errors.length ? `: ${c.errors.join('; ')}` : ''}`);
          }
          if (!verdict.allowed) return reject(`revocation checking rejects it (${verdict.status}); the client would get 401 "Certificate revoked or verification failed"`);
        } finally {
          await checker.close();
        }
      }
      print();
      ctx.stdout(`\nACCEPTED${username !== undefined ? ` as user "${username}"` : ' (as no user: credentials still needed)'}\n`);
      return 0;
    } finally {
      await users?.close();
      await db.close();
    }
  },
};
