import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HarperConfig, MtlsConfig } from '@harper-tls/config';
import { createLocalCa, normalizeSerialHex } from '@harper-tls/cert-gen';
import { createRevocationChecker, type RevocationStore, type RevocationVerdict } from '@harper-tls/revocation';
import { openUserStore, usernameFromCertificate, type UserStore } from '@harper-tls/mtls-auth';
import { bytesStore, CertificateRegistry, createLogger, databaseDir, keyValueStore, loadAutoCa, localCaUrls, openServerDatabase, type ServerDatabase } from '@harper-tls/server';
import { formatFlags, parseArgs } from '../args.js';
import type { Command } from '../context.js';
import { CliError } from '../errors.js';
import { progressFetch, progressFor, type FetchLike } from '../progress.js';
import { CONFIG_FLAG, loadExistingConfig, ROOT_FLAG, usage } from './common.js';
import { readCertificates } from './files.js';

const FLAGS = {
  ...ROOT_FLAG,
  ...CONFIG_FLAG,
  cert: { type: 'string' as const, valueName: 'FILE', help: 'the client certificate (PEM or DER; extra PEM blocks are its intermediates)' },
  api: { type: 'string' as const, valueName: 'app|operations', help: 'which HTTPS listener to ask about (default: app)' },
  servername: { type: 'string' as const, valueName: 'NAME', help: 'the SNI name the client sends (picks the tls entry and so its CAs)' },
};

export const DOCTOR_EXIT = { accepted: 0, badInput: 1, rejected: 2 } as const;

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
const DAY_MS = 86_400_000;

type Mark = 'ok' | 'fail' | 'skip' | 'info';
const SYMBOL: Record<Mark, string> = { ok: '✔', fail: '✘', skip: '-', info: '·' };

/** Where a failure sits in the server's order decides what the client sees. */
type Stage = 'listener' | 'chain' | 'revocation' | 'identity';

const name = (c: X509Certificate) => c.subject.replace(/\n/g, ', ');
const day = (d: Date) => d.toISOString().replace('.000Z', 'Z');
const days = (ms: number) => `${Math.round(Math.abs(ms) / DAY_MS)} day${Math.round(Math.abs(ms) / DAY_MS) === 1 ? '' : 's'}`;

/**
 * The path the server would build: leaf, then certificates from the --cert file, up to a trusted
 * CA. Same rule as @harper-tls/mtls-auth's verifyClientChain (`child.checkIssued(parent)` and a
 * verified signature), kept here so the doctor can say where the path breaks.
 */
function buildPath(leaf: X509Certificate, presented: readonly X509Certificate[], trusted: readonly X509Certificate[]): { path: X509Certificate[]; anchor?: X509Certificate } {
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const anchor = trusted.find((t) => current.checkIssued(t) && current.verify(t.publicKey));
    if (anchor) return { path, anchor };
    const next = presented.find((p) => !path.includes(p) && current.checkIssued(p) && current.verify(p.publicKey));
    if (!next) return { path };
    path.push(next);
    current = next;
  }
  return { path };
}

/** Why the path ends where it does, in words an operator can act on. */
function untrustedReason(last: X509Certificate, trusted: readonly X509Certificate[], hadIntermediates: boolean): string {
  const sameName = trusted.filter((t) => t.subject === last.issuer);
  if (sameName.length) {
    return `its issuer "${last.issuer.replace(/\n/g, ', ')}" has the name of a trusted CA but not its key: the CA was regenerated (renew-certs --ca) after this certificate was issued, or another CA uses the same name`;
  }
  if (last.checkIssued(last)) return `it ends in the self-signed "${name(last)}", which this listener does not trust`;
  const hint = hadIntermediates ? '' : ' (if it has intermediate CAs, append them to the --cert file after the certificate)';
  return `its issuer "${last.issuer.replace(/\n/g, ', ')}" is not a CA this listener trusts${hint}`;
}

/** Opens what the doctor reads, never creating a store that does not exist yet. */
async function openStores(root: string): Promise<{ db?: ServerDatabase; users?: UserStore; close(): Promise<void> }> {
  const dir = databaseDir(root);
  const db = existsSync(join(dir, 'server.mdb')) ? openServerDatabase(root) : undefined;
  let users: UserStore | undefined;
  try {
    users = existsSync(join(dir, 'users.mdb')) ? await openUserStore({ path: join(dir, 'users.mdb') }) : undefined;
  } catch (err) {
    await db?.close();
    throw err;
  }
  return {
    db,
    users,
    async close() {
      await users?.close();
      await db?.close();
    },
  };
}

const readOnly = <T extends object>(store: T, writes: string[]): T => {
  const copy = { ...store } as Record<string, unknown>;
  for (const w of writes) copy[w] = async () => undefined;
  return copy as T;
};

export const doctor: Command = {
  name: 'doctor',
  summary: 'explain whether the configured server would accept a client certificate, and as whom',
  usage: usage(
    [
      'Usage: harper-tls doctor --cert FILE [--root DIR] [--config FILE] [--api app|operations] [--servername NAME]',
      '',
      'Walks the checks the server makes on a client certificate, in its order: trust chain against',
      'the configured CAs, validity, key usage, revocation (CRL/OCSP, with the source of the answer;',
      "the server's CRL cache is used as the server would), identity mapping (mtls.user), and whether",
      'that user exists and is active. Reads only: it never writes the configuration or the stores,',
      'and it can run while the server runs.',
      '',
      'Exit 0 when the certificate would be accepted, 2 when it would be rejected, 1 on bad input.',
    ],
    FLAGS,
    formatFlags,
  ),
  async run(ctx) {
    const { flags, positionals } = parseArgs(ctx.argv, FLAGS);
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}"; the certificate is given as --cert FILE`);
    if (!flags.cert) throw new CliError('--cert FILE is required (the client certificate to explain)');
    const api = (flags.api as string | undefined) ?? 'app';
    if (api !== 'app' && api !== 'operations') throw new CliError(`--api must be "app" or "operations"; got "${api}"`);
    const certFile = flags.cert as string;
    const ders = readCertificates(certFile, '--cert');
    let certs: X509Certificate[];
    try {
      certs = ders.map((d) => new X509Certificate(d));
    } catch {
      throw new CliError(`--cert ${certFile}: not a certificate (neither a PEM "BEGIN CERTIFICATE" block nor DER X.509)`);
    }
    const [leaf, ...presented] = certs as [X509Certificate, ...X509Certificate[]];
    const config = await loadExistingConfig(ctx, flags);
    const servername = flags.servername as string | undefined;

    const mtlsKey = api === 'app' ? 'http.mtls' : 'operationsApi.network.mtls';
    const mtls: MtlsConfig | false = api === 'app' ? config.http.mtls : config.operationsApi.network.mtls;
    const securePort = api === 'app' ? config.http.securePort : config.operationsApi.network.securePort;

    ctx.stdout(`Certificate: ${name(leaf)} (serial ${leaf.serialNumber.toLowerCase()}, issued by ${leaf.issuer.replace(/\n/g, ', ')})\n`);
    const noFile = existsSync(config.configPath) ? '' : ' (no such file: the defaults apply; has the server been started with this root?)';
    ctx.stdout(`Server:      ${config.configPath}${noFile}, ${api === 'app' ? 'application' : 'Operations'} API${securePort !== null ? ` (HTTPS port ${securePort})` : ''}\n\n`);

    const steps: Array<{ mark: Mark; text: string }> = [];
    let rejection: { stage: Stage; why: string } | undefined;
    const say = (mark: Mark, text: string) => steps.push({ mark, text });
    const fail = (stage: Stage, text: string, why = text) => {
      say('fail', text);
      rejection ??= { stage, why };
    };

    if (securePort === null) fail('listener', `no HTTPS listener: ${api === 'app' ? 'http.securePort' : 'operationsApi.network.securePort'} is null, so no client certificate is ever read`);
    else if (mtls === false) fail('listener', `mTLS is off on this listener (${mtlsKey}: false): the server does not ask for a client certificate`);
    if (rejection || mtls === false) return finish(ctx, steps, rejection, false);
    say('ok', `mTLS is on (${mtlsKey}), ${mtls.required ? 'required: a handshake without a trusted certificate fails' : 'optional: a client without a trusted certificate may still use Basic or JWT'}`);

    const stores = await openStores(config.rootPath);
    try {
      const certificateStore = stores.db ? readOnly(keyValueStore(stores.db.certificates), ['put', 'remove']) : { get: async () => undefined, put: async () => {}, remove: async () => {}, list: async () => [] };
      const registry = new CertificateRegistry({ store: certificateStore, logger: createLogger({ level: 'silent' as never }), appTls: config.tls, operationsTls: config.operationsApi.tls });
      await registry.init();
      const contexts = registry.contexts(api === 'app' ? 'https' : 'operations-api');
      const trusted = contexts.trustedCas(servername);
      const runtimeCas = new Set(contexts.material.extraCas.map((c) => c.fingerprint256));
      const caKey = api === 'app' ? 'tls.certificateAuthority' : 'operationsApi.tls.certificateAuthority';
      const origin = (c: X509Certificate) => (runtimeCas.has(c.fingerprint256) ? 'added at run time with add_certificate' : caKey);

      // 1. Trust chain, CA flags, validity, key usage: what the TLS layer (required) or the authenticator checks first.
      const { path, anchor } = buildPath(leaf, presented, trusted);
      if (trusted.length === 0) fail('chain', `trust: this listener trusts no CA for client certificates (set ${caKey}, or add one with add_certificate is_authority: true)`);
      else if (!anchor) {
        fail('chain', `trust: not issued by a trusted CA: ${untrustedReason(path[path.length - 1]!, trusted, presented.length > 0)}`, 'the certificate does not chain to a CA this listener trusts');
        say('info', `trusted CAs${servername ? ` for servername ${servername}` : ''}: ${trusted.map((t) => `"${name(t)}" (${origin(t)})`).join('; ')}`);
      } else {
        say('ok', `trust: ${[...path, anchor].map((c) => `"${name(c)}"`).join(' → ')} (trusted: ${origin(anchor)})`);
        for (const c of [...path.slice(1), anchor]) if (!c.ca) fail('chain', `trust: the issuer "${name(c)}" is not a CA (basicConstraints CA:TRUE is missing)`);
      }

      const now = new Date();
      let validityOk = true;
      for (const c of anchor ? [...path, anchor] : path) {
        const from = new Date(c.validFrom);
        const to = new Date(c.validTo);
        const who = c === leaf ? 'the certificate' : `its issuer "${name(c)}"`;
        if (now < from) {
          validityOk = false;
          fail('chain', `validity: ${who} is not valid yet: from ${day(from)} (in ${days(from.getTime() - now.getTime())}; is a clock wrong?)`, `${who} is not valid yet`);
        } else if (now > to) {
          validityOk = false;
          fail('chain', `validity: ${who} expired on ${day(to)} (${days(now.getTime() - to.getTime())} ago)`, `${who} has expired`);
        }
      }
      const leafTo = new Date(leaf.validTo);
      if (validityOk) say('ok', `validity: valid now, until ${day(leafTo)} (${days(leafTo.getTime() - now.getTime())} left)${anchor ? '; its issuers too' : ''}`);

      const eku = leaf.keyUsage;
      const ekuNames = (eku ?? []).map((o) => EKU_NAMES[o] ?? o).join(', ');
      if (eku && eku.length && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) {
        fail('chain', `key usage: the extended key usage is ${ekuNames}, without clientAuth: this is not a client certificate${ekuNames.includes('serverAuth') ? ' (a server certificate? issue one with harper-tls cert issue, without --server)' : ''}`, 'the certificate is not for client authentication (extended key usage)');
      } else say('ok', eku && eku.length ? `key usage: ${ekuNames}, so client authentication is allowed` : 'key usage: no extended key usage, so client authentication is allowed');

      // 2. Revocation: after the chain, before the user (a revoked certificate is refused even with credentials).
      if (!mtls.certificateVerification) say('info', `revocation: not checked (${mtlsKey}.certificateVerification is off)`);
      else if (!anchor) say('skip', 'revocation: not checked (it needs a trusted chain)');
      else {
        const store: RevocationStore | undefined = stores.db ? readOnly(bytesStore(stores.db.revocation), ['put']) : undefined;
        const offline: string[] = [];
        const fetch = progressFetch(progressFor(ctx), ownEndpointsOffline(config, stores.db, offline));
        const checker = createRevocationChecker({ config: mtls.certificateVerification, store, fetch });
        let verdict: RevocationVerdict;
        try {
          verdict = await checker.check([...path, anchor].map((c) => new Uint8Array(c.raw)));
        } finally {
          await checker.close();
        }
        explainRevocation(verdict, config, fail, say);
        for (const url of new Set(offline)) say('info', `the server is not running, so ${url} was answered from the local CA's records, as the server would answer it`);
        const record = await localCaRecord(stores.db, config, anchor, leaf);
        if (record) say('info', record);
      }

      // 3. Identity and user.
      let username: string | undefined;
      if (mtls.user.kind === 'none') say('info', `identity: ${mtlsKey}.user is null: the certificate names no user, so requests also need Basic or JWT credentials`);
      else if (mtls.user.kind === 'fixed') {
        username = mtls.user.username;
        say('ok', `identity: every mTLS client is the user "${username}" (${mtlsKey}.user), whatever its CN`);
      } else {
        username = usernameFromCertificate(new Uint8Array(leaf.raw));
        if (username === undefined) fail('identity', `identity: the username is the subject CN, but this subject (${name(leaf) || 'empty'}) has none, several, or one that cannot be read`, 'the certificate names no user (no single readable CN)');
        else say('ok', `identity: the subject CN is "${username}"`);
      }
      let role: string | undefined;
      if (username !== undefined) {
        const user = await stores.users?.get(username);
        if (!stores.users) fail('identity', `user: there is no user store yet (${join(databaseDir(config.rootPath), 'users.mdb')}); start the server once`, `user "${username}" does not exist`);
        else if (!user) fail('identity', `user: "${username}" does not exist; create it with the add_user operation`, `user "${username}" does not exist`);
        else if (!user.active) fail('identity', `user: "${username}" exists but is not active; enable it with alter_user (active: true)`, `user "${username}" is not active`);
        else {
          role = user.role;
          say('ok', `user: "${username}" exists and is active, role ${user.role}`);
        }
      }
      return finish(ctx, steps, rejection, mtls.required, username, role, api);
    } finally {
      await stores.close();
    }
  },
};

function explainRevocation(verdict: RevocationVerdict, config: HarperConfig, fail: (stage: Stage, text: string, why?: string) => void, say: (mark: Mark, text: string) => void): void {
  const own = localCaUrls(config);
  for (const c of verdict.certificates) {
    const how = c.cache === 'hit' ? "from the server's cache" : c.cache === 'stale' ? "from the server's cache, past its nextUpdate (grace period)" : c.method ? 'fetched now' : '';
    const source = [c.method?.toUpperCase(), c.source, how].filter(Boolean).join(' ');
    const text = `revocation: "${c.subject}" is ${c.status}${c.reason ? ` (${c.reason})` : ''}${source ? ` — ${source}` : ''}`;
    const errors = c.errors.map((e) => {
      const ownUrl = [own.crlUrl, own.ocspUrl].find((u) => u && e.includes(u));
      return ownUrl && /ECONNREFUSED|did not answer/.test(e) ? `${e} (this server's own endpoint: is the server running?)` : e;
    });
    const detail = errors.length ? `: ${errors.join('; ')}` : '';
    if (c.status === 'revoked') fail('revocation', text, `the certificate "${c.subject}" is revoked${c.reason ? ` (${c.reason})` : ''}`);
    else if (c.status === 'unknown' && !verdict.allowed) fail('revocation', `${text}${detail}; certificateVerification is fail-closed, so unknown means rejected`, `the revocation status of "${c.subject}" cannot be determined (fail-closed)`);
    else if (c.status === 'unknown') say('ok', `${text}${detail}; allowed because the failure mode is fail-open`);
    else say('ok', text);
  }
}

/**
 * The fetch for the doctor's revocation check. The local CA's CRL and OCSP URLs point at this
 * server; when it is not running, the answer it would give is made here from the local CA's
 * records (signed with its key, nothing stored), so the doctor can explain a certificate of the
 * local CA with the server stopped. Any other URL, or a server that answers, goes to the network.
 */
function ownEndpointsOffline(config: HarperConfig, db: ServerDatabase | undefined, used: string[]): FetchLike {
  const real = globalThis.fetch as unknown as FetchLike;
  const own = localCaUrls(config);
  const auto = db ? loadAutoCa(config.rootPath) : undefined;
  if (!db || !auto || (!own.crlUrl && !own.ocspUrl)) return real;
  const localCa = createLocalCa({ ca: auto, store: readOnly(keyValueStore(db.localCa), ['put', 'remove']), ...own });
  const causeCode = (err: unknown) => (err as { cause?: { code?: string } }).cause?.code;
  // A kept-alive connection to a server that has since stopped fails once with UND_ERR_SOCKET.
  const once = async (url: string, init: Parameters<FetchLike>[1]) => {
    try {
      return await real(url, init);
    } catch (err) {
      if (causeCode(err) === 'UND_ERR_SOCKET') return real(url, init);
      throw err;
    }
  };
  return async (url, init) => {
    try {
      return await once(url, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; errors?: Array<{ code?: string }> } }).cause;
      const refused = cause?.code === 'ECONNREFUSED' || (cause?.errors ?? []).some((e) => e.code === 'ECONNREFUSED');
      if (!refused) throw err;
      if (url === own.crlUrl && (init.method ?? 'GET') === 'GET') {
        used.push(url);
        return new Response(new Uint8Array(await localCa.crl()), { headers: { 'content-type': 'application/pkix-crl' } });
      }
      if (url === own.ocspUrl && init.method === 'POST' && init.body) {
        used.push(url);
        return new Response(new Uint8Array(await localCa.ocspResponder(init.body)), { headers: { 'content-type': 'application/ocsp-response' } });
      }
      throw err;
    }
  };
}

/** For a certificate of the server's own CA, what `harper-tls cert list` knows about it. */
async function localCaRecord(db: ServerDatabase | undefined, config: HarperConfig, anchor: X509Certificate, leaf: X509Certificate): Promise<string | undefined> {
  const caFile = join(config.rootPath, 'keys', 'ca.pem');
  if (!db || !existsSync(caFile)) return undefined;
  try {
    if (new X509Certificate(readFileSync(caFile)).fingerprint256 !== anchor.fingerprint256) return undefined;
  } catch {
    return undefined;
  }
  const text = db.localCa.get(`issued:${normalizeSerialHex(leaf.serialNumber)}`);
  if (!text) return `local CA: serial ${leaf.serialNumber.toLowerCase()} is not in its records (not issued by harper-tls cert issue)`;
  const r = JSON.parse(text) as { status: string; revokedAt?: string; reason?: string; issuedAt: string };
  return r.status === 'revoked' ? `local CA: revoked on ${r.revokedAt}${r.reason ? ` (${r.reason})` : ''} (harper-tls cert list)` : `local CA: issued on ${r.issuedAt}, not revoked (harper-tls cert list)`;
}

function finish(ctx: { stdout(t: string): void }, steps: Array<{ mark: Mark; text: string }>, rejection: { stage: Stage; why: string } | undefined, required: boolean, username?: string, role?: string, api = 'app'): number {
  for (const s of steps) ctx.stdout(`${SYMBOL[s.mark]} ${s.text}\n`);
  if (rejection) {
    ctx.stdout(`\nREJECTED: ${rejection.why}.\n${consequence(rejection.stage, required)}\n`);
    return DOCTOR_EXIT.rejected;
  }
  if (username === undefined) ctx.stdout(`\nACCEPTED as no user: the TLS connection is accepted, but requests need Basic or JWT credentials to authenticate.\n`);
  else ctx.stdout(`\nACCEPTED as user "${username}" (role ${role}) on the ${api === 'app' ? 'application' : 'Operations'} API.\n`);
  return DOCTOR_EXIT.accepted;
}

/** What the client sees for a failure at `stage` (SPEC.md sections 4 and 5). */
function consequence(stage: Stage, required: boolean): string {
  switch (stage) {
    case 'listener':
      return 'The certificate plays no part: requests authenticate with Basic or JWT credentials only.';
    case 'chain':
      return required ? 'The client sees the TLS handshake fail (mTLS is required).' : 'The server ignores the certificate: the request gets 401 {"error":"Login failed"} unless it carries Basic or JWT credentials.';
    case 'revocation':
      return 'The client gets 401 {"error":"Certificate revoked or verification failed"}, even with Basic or JWT credentials.';
    case 'identity':
      return required ? 'The client gets 401 {"error":"Login failed"}.' : 'The client gets 401 {"error":"Login failed"} unless the request also carries valid Basic or JWT credentials.';
  }
}
