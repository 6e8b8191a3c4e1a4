import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Server as TlsServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import { createRevocationChecker, type RevocationChecker } from '@harper-tls/revocation';
import { createAuthenticator, CERT_REJECTED, LOGIN_FAILED, type CertificateOutcome } from '../authenticator.js';
import type { TokenService } from '../tokens.js';
import type { UserStore } from '../users.js';
import { sanEntries } from '../san.js';
import { AuthError } from '../errors.js';
import { parseCas, resolveOptions, type MtlsOptions, type MtlsUser } from './options.js';

/** `req.clientCertificate` / `request.clientCertificate` / `ctx.state.clientCertificate` (SPEC section 6): the verified leaf. */
export interface ClientCertificate {
  /** The subject DN as Node prints it, attributes joined by ", " (`CN=alice, O=Example`). */
  subject: string;
  issuer: string;
  /** Lower-case hex. */
  serialNumber: string;
  /** SHA-256 of the DER, upper-case hex pairs joined by ":" (Node's `fingerprint256`). */
  fingerprint256: string;
  /** subjectAltNames as `TYPE:value` (`DNS:a.example`, `URI:spiffe://...`, `email:...`, `IP Address:...`). */
  san: string[];
  /** ISO 8601. */
  validTo: string;
}

/** What the adapter hands the framework for one request. */
export type MtlsDecision =
  | { ok: true; user: MtlsUser | null; clientCertificate: ClientCertificate | null }
  | { ok: false; status: 401; body: { error: typeof LOGIN_FAILED | typeof CERT_REJECTED }; reason: string };

/** The framework-free part of every adapter. */
export interface MtlsCore {
  /** The decision for one request; a value when nothing needs waiting for (the connection's certificate already evaluated, a sync `users`). Rejects only when `users` throws. */
  decide(req: IncomingMessage): MtlsDecision | Promise<MtlsDecision>;
  /** Stops the revocation checker (Fastify: on `onClose`). */
  close(): Promise<void>;
}

function refuse(reason: string, error: typeof LOGIN_FAILED | typeof CERT_REJECTED = LOGIN_FAILED): MtlsDecision {
  return { ok: false, status: 401, body: { error }, reason };
}

const notUsed = (): never => {
  throw new AuthError('ERR_AUTH_INVALID_OPTION', 'the mtls adapters take no passwords or tokens');
};
/** The adapters ask the authenticator only for the certificate outcome; users come from `options.users`. */
const NO_USERS: UserStore = { get: notUsed, create: notUsed, alter: notUsed, drop: notUsed, list: notUsed, verifyPassword: notUsed, version: notUsed, ensureAdmin: notUsed, close: async () => {} };
const NO_TOKENS: TokenService = { createTokens: notUsed, verifyOperationToken: notUsed, verifyRefreshToken: notUsed, createOperationToken: notUsed };

const MAX_REMEMBERED = 1024;

/**
 * One core for the Express, Fastify and Koa adapters, over the authenticator's certificate
 * path: the TLS socket must have verified the client certificate (`socket.authorized`, so the
 * server is created with `ca` and `requestCert: true`); the authenticator then verifies the
 * chain again against the same CAs (dates at `now()`, clientAuth), checks revocation when
 * asked, and reads the username per `user`, once per connection. `users` maps it to a user.
 */
export function createMtlsCore(options?: MtlsOptions, at?: { server?: unknown }): MtlsCore {
  const o = resolveOptions(options);
  // Behind a TLS-terminating proxy the server has no `ca` of its own: every forwarded certificate
  // would be refused. Said at creation when the server is known (Fastify), else once at run time.
  if (o.forwarded && !o.ca && at?.server !== undefined && !(at.server instanceof TlsServer)) {
    throw new AuthError('ERR_AUTH_INVALID_OPTION', 'mtls(): options.forwardedCertificate on a plain-HTTP server (behind a TLS-terminating proxy) needs options.ca, the CAs the forwarded client certificates chain to: the server has no ca of its own');
  }
  let warnedNoCa = false;
  const warnNoCa = () => {
    if (warnedNoCa) return;
    warnedNoCa = true;
    const msg = 'mtls(): a forwarded client certificate arrived on a plain-HTTP server and options.ca is not set: the server has no ca of its own, so every forwarded certificate is refused (401); pass options.ca';
    if (o.logger) o.logger.warn({}, msg);
    else process.emitWarning(msg, { code: 'HARPER_TLS_MTLS_NO_CA' });
  };
  let checker: RevocationChecker | undefined;
  if (o.revocation) checker = createRevocationChecker({ config: o.revocation, now: o.now, fetch: o.fetch });
  const fromServer = new WeakMap<object, { source: unknown; cas: X509Certificate[] }>();
  const fromTrustedProxy = (socket: TLSSocket) => !!o.forwarded && o.forwarded.proxies.contains(socket.remoteAddress);
  const trustedCas = (socket: TLSSocket): readonly X509Certificate[] => {
    if (!socket.authorized && !fromTrustedProxy(socket)) return [];
    if (o.ca) return o.ca;
    const server = (socket as TLSSocket & { server?: { ca?: unknown } }).server;
    if (!server || server.ca === undefined) {
      if (!socket.encrypted && fromTrustedProxy(socket)) warnNoCa();
      return [];
    }
    const hit = fromServer.get(server);
    if (hit && hit.source === server.ca) return hit.cas;
    let cas: X509Certificate[];
    try {
      cas = parseCas(server.ca, 'the https server\'s ca');
    } catch {
      cas = [];
    }
    fromServer.set(server, { source: server.ca, cas });
    return cas;
  };
  const auth = createAuthenticator({
    users: NO_USERS,
    tokens: NO_TOKENS,
    mtls: { required: o.required, user: o.user, certificateVerification: o.revocation },
    trustedCas,
    revocation: checker,
    now: o.now,
    ...(o.forwarded
      ? { forwarded: { header: o.forwarded.header, format: o.forwarded.format, trusted: (req) => fromTrustedProxy(((req as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session?.socket ?? req.socket) as TLSSocket) } }
      : {}),
  });

  const described = new Map<string, ClientCertificate>();
  const perSocket = new WeakMap<TLSSocket, ClientCertificate>();
  function describe(socket: TLSSocket, forwarded?: X509Certificate): ClientCertificate {
    let c = forwarded ? undefined : perSocket.get(socket);
    if (c) return c;
    const fp = forwarded ? forwarded.fingerprint256 : (socket.getPeerCertificate(false) as PeerCertificate).fingerprint256;
    c = described.get(fp);
    if (!c) {
      const x = forwarded ?? socket.getPeerX509Certificate()!;
      c = Object.freeze({
        subject: x.subject.replace(/\n/g, ', '),
        issuer: x.issuer.replace(/\n/g, ', '),
        serialNumber: x.serialNumber.toLowerCase(),
        fingerprint256: x.fingerprint256,
        san: Object.freeze(sanEntries(x.subjectAltName).map(([t, v]) => `${t}:${v}`)) as string[],
        validTo: new Date(x.validTo).toISOString(),
      });
      if (described.size >= MAX_REMEMBERED) described.delete(described.keys().next().value!);
      described.set(fp, c);
    }
    if (!forwarded) perSocket.set(socket, c);
    return c;
  }

  function withUser(socket: TLSSocket, username: string, forwarded?: X509Certificate): MtlsDecision | Promise<MtlsDecision> {
    if (!o.users) return { ok: true, user: { username, role: null, authenticatedBy: 'mtls' }, clientCertificate: describe(socket, forwarded) };
    const found = o.users(username);
    const done = (r: Awaited<typeof found>): MtlsDecision => {
      if (r === null || r === undefined) return refuse(`certificate user ${JSON.stringify(username)} unknown (options.users)`);
      if (typeof r !== 'object' || typeof r.username !== 'string' || (r.role !== null && typeof r.role !== 'string')) {
        throw new AuthError('ERR_AUTH_INVALID_OPTION', `mtls(): options.users(${JSON.stringify(username)}) must return {username: string, role: string | null} or null`);
      }
      return { ok: true, user: { username: r.username, role: r.role ?? null, authenticatedBy: 'mtls' }, clientCertificate: describe(socket, forwarded) };
    };
    return found instanceof Promise ? found.then(done) : done(found);
  }

  function fromOutcome(socket: TLSSocket, cert: CertificateOutcome): MtlsDecision | Promise<MtlsDecision> {
    if (cert.kind === 'rejected') return refuse(cert.reason, CERT_REJECTED);
    if (cert.kind === 'untrusted' || cert.kind === 'malformed') return refuse(cert.reason);
    if (cert.kind === 'none') return noCertificate;
    if (cert.username !== undefined) return withUser(socket, cert.username, cert.forwarded);
    if (o.user.kind === 'none') return { ok: true, user: null, clientCertificate: describe(socket, cert.forwarded) };
    return refuse(cert.reason ?? 'the certificate names no user');
  }

  /**
   * The decision derived from a connection's certificate outcome, reused only while the
   * authenticator hands back that same outcome object (it evaluates the connection again after the
   * chain's notAfter, the revocation re-check interval, or a trust generation change, and the new
   * outcome gets a new decision). Every outcome but a user that `options.users` maps (called on
   * every request). The decision object is shared by the requests that reuse it.
   */
  const decided = new WeakMap<TLSSocket, { outcome: CertificateOutcome; decision: MtlsDecision }>();
  function settle(socket: TLSSocket, cert: CertificateOutcome): MtlsDecision | Promise<MtlsDecision> {
    const known = decided.get(socket);
    if (known && known.outcome === cert) return known.decision;
    const d = fromOutcome(socket, cert);
    if (!(d instanceof Promise) && !(o.users && cert.kind === 'trusted' && cert.username !== undefined)) {
      if (d.ok && d.user) Object.freeze(d.user);
      decided.set(socket, { outcome: cert, decision: d });
    }
    return d;
  }

  const noCertificate: MtlsDecision = o.required ? refuse('no client certificate') : { ok: true, user: null, clientCertificate: null };
  /** Connections the TLS layer did not verify: their decision, read once. */
  const unverified = new WeakMap<TLSSocket, MtlsDecision>();

  function decide(req: IncomingMessage): MtlsDecision | Promise<MtlsDecision> {
    // HTTP/2 compat requests hand out a new socket proxy per stream; the session's is one per connection.
    const socket = ((req as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session?.socket ?? req.socket) as TLSSocket;
    if (o.forwarded) {
      if (fromTrustedProxy(socket)) {
        // The proxy's client: the same decision path as a handshake certificate, per request
        // (one proxy connection carries many clients).
        const outcome = auth.certificate(req);
        return outcome instanceof Promise ? outcome.then((c) => fromOutcome(socket, c)) : fromOutcome(socket, outcome);
      }
      // From anyone else the header is never believed, and never reaches the application.
      if (req.headers[o.forwarded.header] !== undefined) delete req.headers[o.forwarded.header];
    }
    if (socket.authorized) {
      // Asked on every request: a value once the connection's evaluation has settled and is still current.
      const outcome = auth.certificate(req);
      return outcome instanceof Promise ? outcome.then((c) => settle(socket, c)) : settle(socket, outcome);
    }
    if (!socket.encrypted) return noCertificate;
    let d = unverified.get(socket);
    if (!d) {
      d = socket.getPeerCertificate(false)?.raw ? refuse(`the TLS handshake did not verify the certificate: ${String(socket.authorizationError)}`) : noCertificate;
      unverified.set(socket, d);
    }
    return d;
  }

  return {
    decide: o.logger
      ? (req) => {
          const log = (d: MtlsDecision) => {
            if (!d.ok) o.logger!.info({ reason: d.reason, remote: req.socket?.remoteAddress }, 'authentication failed');
            return d;
          };
          const d = decide(req);
          return d instanceof Promise ? d.then(log) : log(d);
        }
      : decide,
    async close() {
      await checker?.close();
    },
  };
}
