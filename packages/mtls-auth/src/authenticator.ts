import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { MtlsConfig } from '@harper-tls/config';
import type { User, UserStore } from './users.js';
import type { TokenService } from './tokens.js';
import { peerChainFromSocket, verifyClientChain } from './chain.js';
import { CertificateCache } from './cert-cache.js';
import { compileSanMapping, type SanMapping } from './san.js';
import { AuthError } from './errors.js';
import { forwardedReader, type ForwardedCertificateOption } from './forwarded/read.js';

/** The part of @harper-tls/revocation's checker the authenticator uses. */
export interface RevocationGate {
  /** `chain`: DER, leaf first, ending with the trust anchor; `opts.at`: the authenticator's clock. */
  check(chain: Uint8Array[], opts?: { at?: Date }): Promise<{ status: string; allowed: boolean }>;
}

export interface AuthLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Outcome of `authenticate()`: `reason` is for logs only, send `{ error }` with `status`. */
export type AuthResult =
  | { ok: true; user: User; method: 'mtls' | 'basic' | 'jwt'; /** The verified leaf, when it came in a trusted proxy's header. */ forwardedCertificate?: X509Certificate }
  | { ok: false; status: 401; error: 'Login failed' | 'Certificate revoked or verification failed'; reason: string }
  | { ok: false; status: 400; error: typeof BAD_FORWARDED; reason: string };

/** An HTTP/1 `IncomingMessage` or an HTTP/2 compat `Http2ServerRequest` (Fastify: `request.raw`). */
export type AuthRequest = IncomingMessage | Http2ServerRequest;

export const LOGIN_FAILED = 'Login failed' as const;
export const CERT_REJECTED = 'Certificate revoked or verification failed' as const;
/** The 400 answer to a forwarded-certificate header that cannot be decoded at all. */
export const BAD_FORWARDED = 'The forwarded client certificate header cannot be decoded' as const;

export interface AuthenticatorOptions {
  users: UserStore;
  tokens: TokenService;
  /** `http.mtls` (or the Operations API's); false: client certificates are ignored. */
  mtls: MtlsConfig | false;
  /** CAs trusted for client certificates on this listener, per connection (SNI may pick the entry). */
  trustedCas: readonly X509Certificate[] | ((socket: TLSSocket) => readonly X509Certificate[]);
  /** Required when `mtls.certificateVerification` is on; the check is never skipped silently. */
  revocation?: RevocationGate;
  /**
   * For standalone use: when given, every refused `authenticate()` logs exactly one `info` line
   * `authentication failed` with `reason`, `remote` and the request's `x-request-id` (when the
   * client sent a sane one) — never credentials. Default: none, nothing is logged, and the caller
   * logs `result.reason` itself. `@harper-tls/server` passes no logger: it writes the single
   * audit line per refused request, with its own request id.
   */
  logger?: AuthLogger;
  /** Clock for certificate validity; default `() => new Date()`. */
  now?: () => Date;
  /**
   * Beyond Harper, default off: with `mtls.user` = cn, take the username from a subjectAltName
   * matching this pattern instead of the CN (e.g. SPIFFE URIs). No match: no user.
   */
  sanMapping?: SanMapping;
  /**
   * Cache a successful Basic password check per connection (keyed by a SHA-256 digest of the
   * credentials, compared in constant time; dropped when the user's password, role or active
   * flag changes). Default true; false makes every request pay scrypt (benchmarks).
   */
  basicCache?: boolean;
  /**
   * How long a connection may reuse its user lookup (mTLS and JWT), ms, by `now()`. Default 1000; 0 looks
   * the user up on every request. Any create/alter/drop through the same `UserStore`
   * (`users.generation()` changes) invalidates it at once; the TTL only bounds changes made by
   * another process on the same database. Stores without `generation()` are never cached.
   */
  userCacheTtlMs?: number;
  /**
   * A counter that changes whenever something that decides a certificate's outcome changes (a
   * revocation by the local CA, trusted CAs added or removed). A connection's certificate outcome
   * is reused while this stays the same and the outcome has not expired (see `createAuthenticator`:
   * the chain's notAfter, and the revocation re-check interval); after a change, the next request
   * on an open connection verifies and checks its certificate again. Default: never changes
   * (resumed sessions are new connections and always re-checked).
   */
  trustGeneration?: () => number;
  /**
   * How long a connection may reuse its verified Basic password, ms, by `now()` (Harper's
   * `authentication.cacheTTL`). Default: no time bound (until the user's record changes); 0
   * verifies the password on every request.
   */
  credentialCacheTtlMs?: number;
  /**
   * `http.mtls.forwardedCertificate` (SPEC.md section 7): where a trusted proxy puts the client
   * certificate. For a request `trusted(req)` says came from such a proxy, that certificate is the
   * client's (the connection's own handshake certificate is the proxy's and is not used); it goes
   * through the same evaluation as a handshake certificate: chain to `trustedCas`, validity,
   * clientAuth, revocation, identity. Default: none (headers are never read).
   */
  forwarded?: ForwardedCertificateOption;
  /**
   * For several processes behind shared TLS ticket keys (the server's workers): OpenSSL keeps only
   * the leaf in a resumed session, so a session resumed on a process that never saw the client's
   * intermediates could not be chained (401). Called with the DER of the intermediates of a
   * verified chain that this authenticator had not seen; the request's outcome waits for it (so
   * the other processes have them before the client gets an answer), and a failure is ignored
   * (logged at warn with `logger`). The other processes hand them to `addIntermediates()`.
   * Default: none (intermediates stay in this process).
   */
  shareIntermediates?: (ders: Uint8Array[]) => Promise<void> | void;
}

/**
 * What a TLS connection's certificate says, computed once per connection: `none` (no
 * certificate), `untrusted` (chain, dates, clientAuth), `rejected` (revocation), `trusted` (with
 * the username `mtls.user` names, when it names one).
 */
export type CertificateOutcome = MtlsOutcome;
type MtlsOutcome =
  | { kind: 'none'; reason?: string }
  | { kind: 'untrusted'; reason: string }
  | { kind: 'rejected'; reason: string }
  | { kind: 'trusted'; username?: string; reason?: string; /** Set when the certificate came from a trusted proxy's header. */ forwarded?: X509Certificate }
  | { kind: 'malformed'; reason: string };

type Credentials = { kind: 'basic'; username: string; password: string; raw: string } | { kind: 'bearer'; token: string } | { kind: 'malformed'; reason: string } | undefined;

const MAX_AUTH_HEADER = 8192;
/** Intermediates remembered for resumed sessions (oldest dropped first). */
const MAX_INTERMEDIATES = 256;

/**
 * How long an open connection may reuse its certificate outcome before the next request
 * evaluates it again (through the revocation caches, so a re-check is cheap), ms: the smallest of
 * the enabled methods' `crl.cacheTtl` / `ocsp.cacheTtl` and `ocsp.errorCacheTtl` (how long a
 * failed query is remembered before a retry, so a fail-closed refusal recovers after it).
 * Without revocation checking: no bound (only the chain's notAfter applies).
 */
function recheckInterval(mtls: MtlsConfig | false): number {
  const v = mtls ? mtls.certificateVerification : false;
  if (!v) return Infinity;
  const ms = (n: number | undefined) => (typeof n === 'number' && n > 0 ? n : Infinity);
  const crl = v.crl && v.crl.enabled !== false ? ms(v.crl.cacheTtl) : Infinity;
  const ocspOn = Boolean(v.ocsp && v.ocsp.enabled !== false);
  const ocsp = ocspOn ? ms(v.ocsp!.cacheTtl) : Infinity;
  return Math.min(crl, ocsp, ocspOn ? ms(v.ocsp!.errorCacheTtl) : Infinity);
}

function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined) return undefined;
  if (header.length > MAX_AUTH_HEADER) return { kind: 'malformed', reason: 'authorization header too long' };
  const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return { kind: 'malformed', reason: 'authorization header is not "<scheme> <value>"' };
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'bearer') return { kind: 'bearer', token: m[2]! };
  if (scheme !== 'basic') return { kind: 'malformed', reason: `unsupported authorization scheme ${m[1]!.slice(0, 20)}` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(m[2]!)) return { kind: 'malformed', reason: 'basic credentials are not base64' };
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return { kind: 'malformed', reason: 'basic credentials have no "user:password"' };
  return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1), raw: m[2]! };
}

/**
 * The object that stands for the connection. HTTP/1: `req.socket`. HTTP/2 compat requests hand
 * out a new proxy per stream as `req.socket`, so the per-connection caches key on the session's
 * socket proxy instead, which is one object per connection.
 */
function connectionSocket(req: AuthRequest): TLSSocket {
  const session = (req as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session;
  return (session?.socket ?? req.socket) as TLSSocket;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Who is this request? mTLS first (chain verified against this listener's CAs, revocation
 * checked, identity from `mtls.user`), then Basic or JWT credentials. The certificate outcome is
 * computed per TLS connection and reused by the requests on it until, by `now()`, the first
 * certificate of its chain passes notAfter or the re-check interval (`recheckInterval`: the
 * revocation cache TTLs) has passed since it was computed, or `trustGeneration` changes; the next
 * request then evaluates it again the same way. Resumed sessions are new connections, so they
 * are verified and checked again. A successful Basic password check is also cached per
 * connection (until the user's password, role or active flag changes).
 */
export function createAuthenticator(opts: AuthenticatorOptions) {
  const { users, tokens, mtls } = opts;
  const now = opts.now ?? (() => new Date());
  if (mtls && mtls.certificateVerification && !opts.revocation) {
    throw new AuthError('ERR_AUTH_INVALID_OPTION', 'mtls.certificateVerification is on but no revocation checker was given (options.revocation)');
  }
  const sanUser = opts.sanMapping ? compileSanMapping(opts.sanMapping) : undefined;
  const intermediates = new Map<string, X509Certificate>();
  /** Shares of newly seen intermediates still under way, by fingerprint: a chain through one waits for it too. */
  const sharing = new Map<string, Promise<void>>();
  const perSocket = new WeakMap<TLSSocket, { promise: Promise<MtlsOutcome>; generation: number }>();
  /**
   * The settled outcome, the trust generation it was computed in, when its evaluation started and
   * until when (exclusive, ms by `now()`) it holds, so later requests on the connection skip an await.
   */
  const settled = new WeakMap<TLSSocket, { outcome: MtlsOutcome; generation: number; at: number; expiresAt: number; promise: Promise<MtlsOutcome> }>();
  const recheckMs = recheckInterval(mtls);
  const generation = opts.trustGeneration ?? (() => 0);
  const certs = new CertificateCache();
  const userTtl = opts.userCacheTtlMs ?? 1000;
  const userCache = new WeakMap<object, { username: string; user: User | undefined; generation: number; at: number }>();
  const basicCache = new WeakMap<object, { key: Buffer; username: string; version: string; at: number }>();
  const credentialTtl = opts.credentialCacheTtlMs ?? Infinity;
  const useBasicCache = opts.basicCache !== false && credentialTtl > 0;

  const trusted = (socket: TLSSocket) => (typeof opts.trustedCas === 'function' ? opts.trustedCas(socket) : opts.trustedCas);

  async function evaluateCertificate(socket: TLSSocket, validity: { notAfter: number }): Promise<MtlsOutcome> {
    const leaf = certs.leafOf(socket);
    if (!leaf) return { kind: 'none' };
    return evaluateChain(leaf, () => peerChainFromSocket(socket).slice(1), trusted(socket), validity);
  }

  /**
   * The one decision path for a client certificate, wherever it came from (the TLS handshake or
   * a trusted proxy's header): chain to `cas`, validity at `now()`, CA flags, clientAuth,
   * revocation of the whole chain, then the username per `mtls.user`.
   * @param sent the other certificates the client (or its proxy) sent, read only when needed.
   * @param validity when given, `notAfter` is lowered to the earliest notAfter (ms) of the verified chain and its anchor.
   */
  async function evaluateChain(leaf: X509Certificate, sent: () => X509Certificate[], cas: readonly X509Certificate[], validity?: { notAfter: number }): Promise<MtlsOutcome> {
    // OpenSSL keeps only the leaf in a resumed session, not the intermediates the client sent, so
    // intermediates from earlier verified chains are offered as path candidates. Safe: every
    // link is still signature-checked up to a trust anchor of this listener. The chain the client
    // sent in this handshake is read (getPeerX509Certificate, ~120 µs) only when those do not
    // suffice: the candidates are then a superset, so the outcome is the same as reading it first.
    const at = now();
    let chain = verifyClientChain([leaf, ...intermediates.values()], cas, at, certs.issued, certs.facts);
    if (!chain.ok) {
      const more = sent();
      if (more.length) chain = verifyClientChain([leaf, ...more, ...intermediates.values()], cas, at, certs.issued, certs.facts);
    }
    if (!chain.ok) return { kind: 'untrusted', reason: chain.reason };
    if (validity) for (const c of [...chain.path, chain.anchor]) validity.notAfter = Math.min(validity.notAfter, certs.facts(c).notAfter);
    const learned: X509Certificate[] = [];
    let waits: Promise<void>[] | undefined;
    for (const c of chain.path.slice(1)) {
      const fp = certs.fingerprint(c);
      const inFlight = sharing.get(fp);
      if (inFlight) (waits ??= []).push(inFlight);
      if (intermediates.has(fp)) continue;
      remember(fp, c);
      learned.push(c);
    }
    if (learned.length && opts.shareIntermediates) (waits ??= []).push(share(learned));
    if (waits) await Promise.all(waits);
    if (mtls && mtls.certificateVerification) {
      const ders = [...chain.path, chain.anchor].map((c) => certs.der(c));
      let verdict: { status: string; allowed: boolean };
      try {
        verdict = await opts.revocation!.check(ders, { at: now() });
      } catch (err) {
        return { kind: 'rejected', reason: `revocation check failed: ${(err as Error).message}` };
      }
      if (!verdict.allowed) return { kind: 'rejected', reason: `revocation status ${verdict.status}` };
    }
    if (!mtls) return { kind: 'trusted' };
    if (mtls.user.kind === 'none') return { kind: 'trusted' };
    if (mtls.user.kind === 'fixed') return { kind: 'trusted', username: mtls.user.username };
    if (sanUser) {
      const name = sanUser(leaf);
      return name === undefined ? { kind: 'trusted', reason: 'no subjectAltName matches sanMapping' } : { kind: 'trusted', username: name };
    }
    const cn = certs.commonName(leaf);
    return cn === undefined ? { kind: 'trusted', reason: 'the certificate subject has no single readable CN' } : { kind: 'trusted', username: cn };
  }

  function remember(fp: string, c: X509Certificate): void {
    if (intermediates.size >= MAX_INTERMEDIATES) intermediates.delete(intermediates.keys().next().value!);
    intermediates.set(fp, c);
  }

  /** `shareIntermediates` for `learned`, never rejecting: without it a resumed session elsewhere fails closed as before. */
  function share(learned: X509Certificate[]): Promise<void> {
    const fps = learned.map((c) => certs.fingerprint(c));
    const p = Promise.resolve()
      .then(() => opts.shareIntermediates!(learned.map((c) => certs.der(c))))
      .catch((err: unknown) => opts.logger?.warn({ err: (err as Error)?.message ?? String(err) }, 'intermediate CA certificates could not be shared with the other processes'))
      .finally(() => {
        for (const fp of fps) if (sharing.get(fp) === p) sharing.delete(fp);
      });
    for (const fp of fps) sharing.set(fp, p);
    return p;
  }

  const NONE: MtlsOutcome = { kind: 'none' };
  const readForwarded = opts.forwarded ? forwardedReader(opts.forwarded) : undefined;

  /**
   * The certificate a trusted proxy forwarded for this request: decoded (parsed certificates
   * remembered by header value), then `evaluateChain` like a handshake certificate. Not cached
   * per connection: a proxy multiplexes many clients over one connection.
   */
  async function forwardedOutcome(req: AuthRequest): Promise<MtlsOutcome> {
    const decoded = readForwarded!(req);
    if (decoded.kind === 'none') return { kind: 'none', reason: 'no forwarded client certificate from the trusted proxy' };
    if (decoded.kind === 'bad') return decoded.status === 400 ? { kind: 'malformed', reason: decoded.reason } : { kind: 'untrusted', reason: decoded.reason };
    const [leaf, ...rest] = decoded.certificates;
    const outcome = await evaluateChain(leaf!, () => rest, trusted(connectionSocket(req)));
    return outcome.kind === 'trusted' ? { ...outcome, forwarded: leaf } : outcome;
  }

  /** The request's certificate outcome: the forwarded one through a trusted proxy, else the connection's. */
  function outcomeFor(req: AuthRequest): MtlsOutcome | Promise<MtlsOutcome> {
    if (mtls && opts.forwarded && opts.forwarded.trusted(req)) {
      return forwardedOutcome(req).catch((err: unknown) => ({ kind: 'rejected' as const, reason: `certificate evaluation failed: ${(err as Error)?.message ?? String(err)}` }));
    }
    return mtlsOutcome(connectionSocket(req));
  }

  /** The connection's certificate outcome: a value once settled and still current, else the pending evaluation. */
  function mtlsOutcome(socket: TLSSocket): MtlsOutcome | Promise<MtlsOutcome> {
    if (!mtls || !socket.encrypted) return NONE;
    const g = generation();
    const done = settled.get(socket);
    if (done && done.generation === g) {
      // No certificate, no bound: no clock read on the hot path.
      if (done.expiresAt === Infinity) return done.outcome;
      const at = now().getTime();
      // A clock that went back also evaluates again, like the user cache.
      if (at < done.expiresAt && at >= done.at) return done.outcome;
    }
    const t = now().getTime();
    const pending = perSocket.get(socket);
    if (pending && pending.generation === g && pending.promise !== done?.promise) return pending.promise;
    // An unexpected throw must not poison the connection with a 500 on every request: fail closed.
    // The generation and the time are read before the evaluation starts, so a change while it
    // runs makes the next request evaluate again, and the re-check interval counts from then.
    const validity = { notAfter: Infinity };
    const promise: Promise<MtlsOutcome> = evaluateCertificate(socket, validity)
      .catch((err: unknown) => ({ kind: 'rejected' as const, reason: `certificate evaluation failed: ${(err as Error)?.message ?? String(err)}` }))
      .then((outcome) => {
        // notAfter is inclusive (verifyClientChain refuses only after it); no certificate, no bound.
        const expiresAt = outcome.kind === 'none' ? Infinity : Math.min(validity.notAfter + 1, t + recheckMs);
        if (perSocket.get(socket)?.promise === promise) settled.set(socket, { outcome, generation: g, at: t, expiresAt, promise });
        return outcome;
      });
    perSocket.set(socket, { promise, generation: g });
    return promise;
  }

  /**
   * `users.get(username)`, reused by the same connection while the store's generation is
   * unchanged and for at most `userCacheTtlMs` (so drop_user / alter_user apply to the next request).
   */
  function lookupUser(conn: object, username: string): User | undefined | Promise<User | undefined> {
    const generation = userTtl > 0 ? users.generation?.() : undefined;
    if (generation === undefined) return users.get(username);
    const hit = userCache.get(conn);
    const t = now().getTime();
    if (hit && hit.username === username && hit.generation === generation && t - hit.at < userTtl && t >= hit.at) return hit.user;
    return users.get(username).then((user) => {
      userCache.set(conn, { username, user, generation, at: t });
      return user;
    });
  }

  async function withCredentials(req: AuthRequest, creds: Exclude<Credentials, undefined>): Promise<AuthResult> {
    if (creds.kind === 'malformed') return { ok: false, status: 401, error: LOGIN_FAILED, reason: creds.reason };
    if (creds.kind === 'bearer') {
      const username = await tokens.verifyOperationToken(creds.token);
      if (!username) return { ok: false, status: 401, error: LOGIN_FAILED, reason: 'invalid or expired token' };
      const user = await lookupUser(connectionSocket(req), username);
      if (!user || !user.active) return { ok: false, status: 401, error: LOGIN_FAILED, reason: `token user ${user ? 'inactive' : 'unknown'}` };
      return { ok: true, user, method: 'jwt' };
    }
    const key = digest(creds.raw);
    const conn = connectionSocket(req);
    const cached = useBasicCache ? basicCache.get(conn) : undefined;
    const t = cached && credentialTtl !== Infinity ? now().getTime() : 0;
    const fresh = !cached || credentialTtl === Infinity || (t - cached.at < credentialTtl && t >= cached.at);
    if (cached && fresh && cached.key.length === key.length && timingSafeEqual(cached.key, key) && cached.username === creds.username) {
      const [user, version] = await Promise.all([users.get(creds.username), users.version(creds.username)]);
      if (user && user.active && version === cached.version) return { ok: true, user, method: 'basic' };
    }
    const user = await users.verifyPassword(creds.username, creds.password);
    if (!user) return { ok: false, status: 401, error: LOGIN_FAILED, reason: 'wrong password, unknown or inactive user' };
    const version = await users.version(user.username);
    if (version && useBasicCache) basicCache.set(conn, { key, username: user.username, version, at: credentialTtl === Infinity ? 0 : now().getTime() });
    return { ok: true, user, method: 'basic' };
  }

  return {
    /**
     * The request's connection certificate outcome alone (no user lookup, no credentials), shared
     * with `authenticate()`: a value once the connection's evaluation has settled. For the
     * framework adapters, which map the username to a user themselves.
     */
    certificate(req: AuthRequest): CertificateOutcome | Promise<CertificateOutcome> {
      return outcomeFor(req);
    },
    /**
     * Intermediates another process verified (its `shareIntermediates`), DER. They are only path
     * candidates, like the ones this authenticator saw itself: every link of a chain through them
     * is still signature-checked up to a trust anchor of the listener, with dates and CA flags,
     * before it counts. Anything that is not a parsable CA certificate is ignored.
     */
    addIntermediates(ders: readonly Uint8Array[]): void {
      for (const der of ders) {
        let c: X509Certificate;
        try {
          c = new X509Certificate(der);
        } catch {
          continue;
        }
        if (!c.ca) continue;
        const fp = certs.fingerprint(c);
        if (!intermediates.has(fp)) remember(fp, c);
      }
    },
    /** Authenticates one request; never rejects for bad input (a 401 result instead). */
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const creds = parseAuthorization(req.headers.authorization);
      const conn = connectionSocket(req);
      const pending = outcomeFor(req);
      const cert = pending instanceof Promise ? await pending : pending;
      // Through a trusted proxy with mtls.required, credentials never stand in for the certificate
      // (a TLS listener would have failed the handshake).
      const proxied = !!(mtls && opts.forwarded && opts.forwarded.trusted(req));
      const credsAllowed = !(proxied && mtls && mtls.required);
      let result: AuthResult;
      if (cert.kind === 'malformed') {
        result = { ok: false, status: 400, error: BAD_FORWARDED, reason: cert.reason };
      } else if (cert.kind === 'rejected') {
        // A revoked or unverifiable certificate is refused even when credentials come along.
        result = { ok: false, status: 401, error: CERT_REJECTED, reason: cert.reason };
      } else if (cert.kind === 'trusted' && cert.username !== undefined) {
        const found = lookupUser(conn, cert.username);
        const user = found instanceof Promise ? await found : found;
        if (user && user.active) result = cert.forwarded ? { ok: true, user, method: 'mtls', forwardedCertificate: cert.forwarded } : { ok: true, user, method: 'mtls' };
        else if (creds && !(mtls && mtls.required)) result = await withCredentials(req, creds);
        else result = { ok: false, status: 401, error: LOGIN_FAILED, reason: `certificate user ${user ? 'inactive' : 'unknown'}` };
      } else if (creds && credsAllowed) {
        result = await withCredentials(req, creds);
      } else if (creds) {
        result = { ok: false, status: 401, error: LOGIN_FAILED, reason: `mtls.required: a request through a trusted proxy needs a valid forwarded certificate (${cert.reason ?? 'none'})` };
      } else {
        const why = cert.kind === 'untrusted' ? cert.reason : cert.kind === 'trusted' ? (cert.reason ?? 'the certificate names no user and no credentials were given') : cert.kind === 'none' && cert.reason ? `no credentials (${cert.reason})` : 'no credentials';
        result = { ok: false, status: 401, error: LOGIN_FAILED, reason: why };
      }
      if (!result.ok && opts.logger) {
        const given = req.headers['x-request-id'];
        const reqId = typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : undefined;
        opts.logger.info({ reason: result.reason, remote: req.socket?.remoteAddress, ...(reqId ? { reqId } : {}) }, 'authentication failed');
      }
      return result;
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
