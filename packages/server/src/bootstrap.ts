import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { HarperConfig, MtlsConfig } from '@harper-tls/config';
import { createLocalCa, createOcspHttpHandler, recoverKeysDir } from '@harper-tls/cert-gen';
import { createRevocationChecker, type RevocationChecker } from '@harper-tls/revocation';
import { createAuthenticator, createTokenService, handleAuthOperation, type UserStore } from '@harper-tls/mtls-auth';
import { openUserStore } from './storage/user-store.js';
import { loadOrCreateSecret } from './storage/jwt-secret.js';
import type { Logger } from './logger.js';
import { ServerError } from './errors.js';
import { openServerDatabase, keyValueStore, bytesStore, type ServerDatabase } from './database.js';
import { CertificateRegistry } from './certificates/registry.js';
import { fileKeyStore, runtimeKeysDir } from './certificates/key-files.js';
import { watchTlsFiles } from './certificates/watch.js';
import { HarperServer, planListeners, type Authenticate, type ListeningInfo, type ListenerName } from './server.js';
import { certificateOperations } from './operations/certificates.js';
import { localCaOperations } from './operations/local-ca.js';
import { TrustGeneration } from './trust-generation.js';
import type { OperationHandler } from './operations/types.js';
import { authorizeLocal } from './http/authorize-local.js';
import { cameThroughProxy } from './http/forwarding-policy.js';
import { forwardedOption, setupForwarding, trustedProxiesOf } from './http/forwarding-setup.js';
import { auditAuthentication } from './audit.js';
import { localCaRoute, metricsRoute, CRL_PATH, OCSP_PATH } from './routes/local-ca.js';
import { ServerMetrics, authReasonCategory } from './metrics.js';
import { instrumentChecker, instrumentedFetch, instrumentedStore } from './revocation-metrics.js';
import { startApplications } from './applications/start.js';
import { userStoreOver } from './storage/user-records.js';
import { openCluster, clusterTokenSecret, unavailableAs503, clusterMetrics, coalesce } from './cluster/cluster.js';
import type { ClusterStores } from '@harper-tls/store';
import type { WorkerPeers } from './workers/peers.js';
import { applyPeerChanges, replicatedOperations, sharedIntermediates, sharedRevocation, sharedUsers, TOPICS } from './workers/share.js';
import { clusterKeySealer } from './cluster/key-sealer.js';

const DAY_MS = 86_400_000;

export interface StartOptions {
  config: HarperConfig;
  logger: Logger;
  /** Admin user to create on first start (HDB_ADMIN_USERNAME / HDB_ADMIN_PASSWORD). */
  admin?: { username?: string; password?: string };
  /** Bind address; default all interfaces. */
  host?: string;
  /** Replaces configured ports (tests pass 0 to get free ports). */
  portOverrides?: Partial<Record<ListenerName, number>>;
  now?: () => Date;
  /** `GET /metrics` on the Operations API: `requireAuthentication` default true (super_user only); false opens it to any scraper. */
  metrics?: { requireAuthentication?: boolean };
  /** How often the local CA's records are polled for revocations made by another process (`harper-tls cert revoke`), ms. Default 250. */
  localCaPollMs?: number;
  /**
   * For `authentication.authorizeLocal`: whether a request came through a trusted proxy or carries
   * a PROXY-protocol address (SPEC.md section 7). Default: never (the forwarded headers are checked regardless).
   */
  cameThroughProxy?: (req: import('node:http').IncomingMessage) => boolean;
  /** In a multi-worker server (`threads.count` > 1): the other workers, so every run-time change reaches them all (SPEC.md section 8). */
  peers?: WorkerPeers;
}

export interface HarperInstance {
  server: HarperServer;
  listening: ListeningInfo[];
  users: UserStore;
  registry: CertificateRegistry;
  metrics: ServerMetrics;
  database: ServerDatabase;
  /** With `cluster`: the shared store (SPEC.md section 10). */
  cluster?: ClusterStores;
  /** The admin password when this start generated it (print it once). */
  generatedAdminPassword?: string;
  /** Certificates in use that expire within 30 days. */
  expiringSoon: Array<{ name: string; subject: string; validTo: string }>;
  close(): Promise<void>;
}

/** URLs the local CA puts in issued certificates: this server's plain HTTP port when it has one. */
export function localCaUrls(config: HarperConfig): { crlUrl?: string; ocspUrl?: string } {
  const port = config.http.port ?? config.http.securePort;
  if (port === null) return {};
  const scheme = config.http.port !== null ? 'http' : 'https';
  return { crlUrl: `${scheme}://localhost:${port}${CRL_PATH}`, ocspUrl: `${scheme}://localhost:${port}${OCSP_PATH}` };
}

/**
 * Composes the whole server from a validated configuration: the embedded store, users and
 * tokens, run-time certificates, revocation checkers, authenticators, the local CA endpoints
 * and metrics, then listens. The caller (the CLI) has already generated default certificates
 * and validated the TLS material.
 */
export async function startHarper(opts: StartOptions): Promise<HarperInstance> {
  const { config, logger } = opts;
  const now = opts.now ?? (() => new Date());
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const database = openServerDatabase(config.rootPath, config.storage.path);
    closers.push(() => database.close());
    const dbDir = config.storage.path;
    // Several nodes (SPEC.md section 10): the shared engine, loaded only when `cluster` is set.
    const cluster = config.cluster ? await openCluster(config, logger, { claimNodeName: !opts.peers }) : undefined;
    if (cluster) closers.push(() => cluster.close());
    const ownUsers = cluster ? userStoreOver(cluster.users) : await openUserStore({ path: join(dbDir, 'users.mdb') });
    closers.push(() => ownUsers.close());
    const peers = opts.peers;
    const users = peers ? sharedUsers(ownUsers, peers) : ownUsers;
    // HDB_ADMIN_USERNAME= / HDB_ADMIN_PASSWORD= (set but empty) are unset: "admin", a generated password.
    const adminName = opts.admin?.username || 'admin';
    const admin = await users.ensureAdmin({ username: adminName, password: opts.admin?.password || undefined });
    if (config.authentication.authorizeLocal) {
      logger.warn({ user: adminName }, `authentication.authorizeLocal is on: a request from this machine (loopback or the domain socket, not through a proxy) without credentials is the super user "${adminName}"`);
    }
    const tokens = createTokenService({
      secret: cluster ? clusterTokenSecret(requireCa(config.rootPath).privateKeyPem) : await loadOrCreateSecret(dbDir),
      operationTokenTimeoutMs: config.authentication.operationTokenTimeoutMs,
      refreshTokenTimeoutMs: config.authentication.refreshTokenTimeoutMs,
      now,
    });

    const registry = new CertificateRegistry({ store: cluster?.certificates ?? keyValueStore(database.certificates), keys: fileKeyStore(runtimeKeysDir(config.rootPath)), sealer: cluster ? clusterKeySealer(requireCa(config.rootPath).privateKeyPem) : undefined, logger, appTls: config.tls, operationsTls: config.operationsApi.tls, now, keysLock: peers ? (fn) => peers.exclusive('runtime-keys', fn) : undefined });
    await registry.init();
    const metrics = new ServerMetrics({ now, worker: peers?.index ?? 0 });
    metrics.watchCertificates(() => registry.allCertificates());

    // The local CA's records are authoritative for its own certificates: a revocation (here, or by
    // `harper-tls cert revoke` in another process) applies to the next handshake and, through the
    // trust generation, to the next request of every open connection, with no CRL cache between.
    const ca = loadAutoCa(config.rootPath);
    const localCa = ca ? createLocalCa({ ca, store: cluster?.localCa ?? keyValueStore(database.localCa, peers ? (name, fn) => peers.exclusive(`local-ca:${name}`, fn) : undefined), ...localCaUrls(config), now }) : undefined;
    const authorities = localCa ? [{ certificate: ca!.certificatePem, status: (serial: string) => localCa.status(serial) }] : [];
    const trust = new TrustGeneration();
    closers.push(() => trust.close());
    if (localCa) trust.watch(() => localCa.revision(), opts.localCaPollMs ?? 250);
    if (cluster) {
      // Another node's revocation reaches open connections on their next request; its certificates are applied here.
      cluster.localCa.onChange((key) => key.startsWith('issued:') && trust.bump());
      cluster.certificates.onChange(coalesce(() => registry.reloadStored(), (err) => logger.error({ err: (err as Error).message }, 'run-time certificates changed on another node could not be applied')));
      clusterMetrics(metrics, cluster);
    }
    registry.contexts('https').onUpdate(() => trust.bump());
    registry.contexts('operations-api').onUpdate(() => trust.bump());
    if (peers) applyPeerChanges(peers, { registry, trust });
    const shared = peers ? sharedRevocation(peers) : undefined;
    const intermediates = peers ? sharedIntermediates(peers) : undefined;

    const checkers = new Map<MtlsConfig, RevocationChecker>();
    const checkerFor = (mtls: MtlsConfig | false): RevocationChecker | undefined => {
      if (!mtls || !mtls.certificateVerification) return undefined;
      let c = checkers.get(mtls);
      if (!c) {
        c = instrumentChecker(createRevocationChecker({ config: mtls.certificateVerification, authorities, store: instrumentedStore(cluster?.revocation ?? bytesStore(database.revocation), metrics), fetch: instrumentedFetch(metrics), logger, now, shared: shared?.() }), metrics);
        checkers.set(mtls, c);
        closers.push(() => c!.close());
      }
      return c;
    };

    const proxies = trustedProxiesOf(config);
    const forwarded = forwardedOption(config);
    const authenticate = (api: 'app' | 'operations', secure: boolean, via?: 'socket'): Authenticate => {
      // SPEC.md section 7: on the plain application listener too, a trusted proxy's forwarded certificate is read with http.mtls.
      const mtls = secure ? (api === 'app' ? config.http.mtls : config.operationsApi.network.mtls) : api === 'app' && forwarded ? config.http.mtls : false;
      const contexts = registry.contexts(api === 'app' ? 'https' : 'operations-api');
      const auth = createAuthenticator({
        users,
        tokens,
        mtls,
        trustedCas: (socket: TLSSocket) => contexts.trustedCas((socket as TLSSocket & { servername?: string | false }).servername || undefined),
        revocation: checkerFor(mtls),
        trustGeneration: () => trust.value,
        // The same clock as the revocation checkers: an open connection's certificate is checked again past its notAfter and the revocation re-check interval.
        now,
        userCacheTtlMs: config.authentication.cacheTtlMs,
        credentialCacheTtlMs: config.authentication.cacheTtlMs,
        ...(api === 'app' && forwarded ? { forwarded } : {}),
        // A session resumed on another worker carries only the leaf: that worker needs the intermediates this one verified.
        ...(intermediates ? { shareIntermediates: (ders: Uint8Array[]) => intermediates.publish(ders) } : {}),
        // No logger: HarperServer writes the one audit line per refused request (with its request id).
      });
      intermediates?.subscribe(auth);
      const listener: ListenerName = via === 'socket' ? 'operations-socket' : api === 'app' ? (secure ? 'https' : 'http') : secure ? 'operations-secure' : 'operations';
      const base: Authenticate = (req) => auth.authenticate(req);
      const check = config.authentication.authorizeLocal
        ? authorizeLocal(base, { viaSocket: via === 'socket', admin: () => users.get(adminName), cameThroughProxy: (req) => cameThroughProxy(req) || !!opts.cameThroughProxy?.(req) })
        : base;
      const audit = config.logging.auditAuthEvents;
      const auditing = audit.logFailed || audit.logSuccessful;
      return async (req) => {
        const result = await check(req);
        const method = result.ok ? result.method : attemptedMethod(req, result.error);
        metrics.authentications.inc({ listener, method, outcome: result.ok ? 'ok' : 'failed', reason: result.ok ? '' : authReasonCategory(result.reason) });
        if (auditing) auditAuthentication(logger, audit, req, result, listener, method);
        return result;
      };
    };

    const authOps: OperationHandler = async (body, caller) => {
      return handleAuthOperation({ users, tokens, caller }, body);
    };

    const listeners = planListeners(config, {
      appContexts: registry.contexts('https'),
      operationsContexts: registry.contexts('operations-api'),
      authenticate,
    }).map((p) => ({ ...p, port: opts.portOverrides?.[p.name] ?? p.port }));

    const applications = await startApplications(config, logger, closers);
    const server = new HarperServer({
      applications,
      logger,
      listeners,
      host: opts.host,
      // SPEC.md section 8: a worker's in-flight requests get up to 10 s when it is stopped.
      ...(peers ? { closeGraceMs: 10_000 } : {}),
      // One set of session ticket keys on every worker, kept through certificate changes: a ticket from one resumes on another (and is re-checked there).
      ...(peers ? { ticketKeys: peers.ticketKeys } : {}),
      operations: ((ops) => (peers ? replicatedOperations(ops, peers, logger) : ops))([authOps, certificateOperations(registry), localCaOperations(localCa, () => trust.bump())].map((op) => (cluster ? unavailableAs503(op) : op))),
      health: cluster ? () => ({ cluster: cluster.health().status }) : undefined,
      appRoutes: localCa ? [localCaRoute({ crl: () => localCa.crl(), ocspHttpHandler: createOcspHttpHandler(localCa.ocspResponder) })] : [],
      operationsRoutes: [metricsRoute(() => (peers ? peers.clusterMetrics() : metrics.render()), { requireAuthentication: opts.metrics?.requireAuthentication ?? true })],
    });
    setupForwarding({ config, proxies, logger, metrics, servers: listeners.map((l) => ({ name: l.name, server: server.server(l.name) })) });
    peers?.provideMetrics(() => metrics.registry.getMetricsAsJSON());
    for (const l of listeners) {
      const s = server.server(l.name);
      metrics.countRequests(s, l.name);
      if (l.tls) {
        s?.on('secureConnection', (socket: TLSSocket) => {
          // `authorized` means a verified client certificate (always so with mtls.required) and costs
          // nothing; getPeerCertificate() (~20-60 µs per handshake) only for the other connections.
          const withCert = socket.authorized || hasPeerCertificate(socket);
          metrics.handshakes.inc({ listener: l.name, outcome: 'ok', reason: '', client_certificate: withCert ? 'yes' : 'no' });
        });
        s?.on('tlsClientError', (err: NodeJS.ErrnoException) => {
          metrics.handshakes.inc({ listener: l.name, outcome: 'failed', reason: err.code ?? 'unknown', client_certificate: 'no' });
        });
      }
    }
    const listening = await server.listen();
    closers.push(() => server.close());

    // With several workers, worker 0 watches and applies a change on the others before it counts as loaded.
    if (!peers || peers.index === 0) {
      const watcher = watchTlsFiles([...config.tls, ...config.operationsApi.tls], () => {
        if (!registry.reloadConfigured().ok || !peers) return;
        peers.broadcast(TOPICS.configured).then(
          () => logger.info({ workers: peers.count }, 'configured certificate files reloaded on every worker'),
          (err) => logger.error({ err: (err as Error).message }, 'configured certificate files were not reloaded on every worker'),
        );
      });
      closers.push(() => watcher.close());
    }

    // Served and trusted certificates within 30 days of expiry: warned at start, after every
    // certificate change and once a day, each certificate once per process.
    const warned = new Set<string>();
    const checkExpiry = () => {
      const soon = registry
        .allCertificates()
        .filter((c) => new Date(c.cert.validTo).getTime() - now().getTime() < 30 * DAY_MS)
        .map((c) => ({ name: c.name, kind: c.kind, subject: c.cert.subject.replace(/\n/g, ', '), validTo: new Date(c.cert.validTo).toISOString(), fingerprint256: c.cert.fingerprint256 }));
      for (const e of soon) {
        if (warned.has(e.fingerprint256)) continue;
        warned.add(e.fingerprint256);
        logger.warn(e, 'certificate expires within 30 days');
      }
      return soon;
    };
    const expiringSoon = checkExpiry().map(({ name, subject, validTo }) => ({ name, subject, validTo }));
    registry.contexts('https').onUpdate(() => void checkExpiry());
    registry.contexts('operations-api').onUpdate(() => void checkExpiry());
    const daily = setInterval(checkExpiry, DAY_MS);
    daily.unref();
    closers.push(() => clearInterval(daily));

    return {
      server,
      listening,
      users,
      registry,
      metrics,
      database,
      cluster,
      generatedAdminPassword: admin.generatedPassword,
      expiringSoon,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** What a failed request tried, for the metrics: the Authorization scheme, else mTLS when a certificate was refused. */
function attemptedMethod(req: { headers: Record<string, string | string[] | undefined> }, error: string): string {
  const scheme = /^\s*(\w+)/.exec(String(req.headers.authorization ?? ''))?.[1]?.toLowerCase();
  if (scheme === 'basic') return 'basic';
  if (scheme === 'bearer') return 'jwt';
  if (scheme) return 'other';
  if (error === 'Certificate revoked or verification failed') return 'mtls';
  // HTTP/2 compat requests reach the connection through the session.
  const socket = ((req as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session?.socket ?? (req as { socket?: TLSSocket }).socket) as TLSSocket | undefined;
  return socket?.encrypted && hasPeerCertificate(socket) ? 'mtls' : 'none';
}

function hasPeerCertificate(socket: TLSSocket): boolean {
  const peer = socket.getPeerCertificate();
  return !!peer && Object.keys(peer).length > 0;
}

/** The local CA a cluster node needs (its key derives the token secret); a clear error when absent. */
function requireCa(rootPath: string): { privateKeyPem: string } {
  const ca = loadAutoCa(rootPath);
  if (!ca) throw new ServerError('ERR_SERVER_DATABASE', `cluster: ${join(rootPath, 'keys', 'ca.pem')} and ca-privateKey.pem, a matching pair, are required on every node (copy them from the first node: docs/cluster.md)`);
  return ca;
}

/**
 * The auto-generated CA in `<ROOTPATH>/keys/`, when both of its files exist and are a pair (after
 * finishing an interrupted renewal, unless `readOnly`). A ca.pem the user replaced with a CA of
 * their own beside the generated ca-privateKey.pem is no local CA: undefined (nothing is issued,
 * revoked or published under a certificate whose key is not there).
 */
export function loadAutoCa(rootPath: string, opts: { readOnly?: boolean } = {}): { certificatePem: string; privateKeyPem: string; serialHex: string } | undefined {
  // A renewal a crash interrupted is finished first: never a CA key of one set with the
  // certificate of another. `readOnly` (doctor) leaves the files as they are.
  if (!opts.readOnly) recoverKeysDir(join(rootPath, 'keys'));
  const cert = join(rootPath, 'keys', 'ca.pem');
  const key = join(rootPath, 'keys', 'ca-privateKey.pem');
  if (!existsSync(cert) || !existsSync(key)) return undefined;
  const ca = { certificatePem: readFileSync(cert, 'utf8'), privateKeyPem: readFileSync(key, 'utf8'), serialHex: '' };
  let pair = false;
  try {
    pair = new X509Certificate(ca.certificatePem).checkPrivateKey(createPrivateKey(ca.privateKeyPem));
  } catch {
    // unreadable: not a pair
  }
  return pair ? ca : undefined;
}
