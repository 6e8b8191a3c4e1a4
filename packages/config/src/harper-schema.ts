/**
 * Harper's configuration schema (SPEC.md section 11): every key a `harperdb-config.yaml` written
 * for Harper may hold, with the types Harper accepts for it. Learnt from Harper's
 * `validation/configValidator.ts` (the Joi schema) and `utility/hdbTerms.ts` (`CONFIG_PARAMS`, the
 * list of every configuration parameter), https://github.com/HarperFast/harper; not copied.
 *
 * harper-tls uses the keys it also has in its own tree (`keys.ts`); every other key of this table
 * is accepted, type-checked against the types below and reported once at start as ignored. A key
 * in neither tree is an error.
 */

/** A value's type as Harper checks it. `number` also accepts a numeric string (Joi converts them). */
export type HarperType = 'boolean' | 'number' | 'string' | 'array' | 'object' | 'any';

export interface HarperKey {
  /** The types Harper accepts; `null` is always accepted (it means "the default" in Harper's files). */
  readonly types: readonly HarperType[];
  /** The known sub-keys of an object value. */
  readonly keys?: HarperTree;
  /** Free-form children (database names, model names, legacy sections): not checked. */
  readonly open?: boolean;
  /** The value may also be a list of objects with `keys` (e.g. `tls`). */
  readonly list?: boolean;
}

export type HarperTree = { readonly [key: string]: HarperKey };

const leaf = (...types: HarperType[]): HarperKey => ({ types });
const obj = (keys: HarperTree, ...alsoTypes: HarperType[]): HarperKey => ({ types: ['object', ...alsoTypes], keys });
const B = leaf('boolean');
const N = leaf('number');
const S = leaf('string');
const A = leaf('array');
const NS = leaf('number', 'string');
const ANY = leaf('any');
const OPEN: HarperKey = { types: ['object'], open: true };
/** Harper's port: a number (min 0) or a string (a named pipe / socket path). */
const PORT = NS;

const CRL = obj({ enabled: B, timeout: N, cacheTtl: N, gracePeriod: N, failureMode: S }, 'boolean');
const OCSP = obj({ enabled: B, timeout: N, cacheTtl: N, errorCacheTtl: N, failureMode: S }, 'boolean');
const CERTIFICATE_VERIFICATION = obj({ failureMode: S, crl: CRL, ocsp: OCSP }, 'boolean');
const MTLS = obj({ required: B, user: S, certificateAuthority: S, certificateVerification: CERTIFICATE_VERIFICATION }, 'boolean');
const TLS: HarperKey = {
  types: ['object', 'array'],
  list: true,
  keys: { certificate: S, privateKey: S, certificateAuthority: S, host: leaf('string', 'array'), ciphers: S, unixDomainSockets: ANY, certificateWatchInterval: N },
};
const RATE_LIMIT = obj({
  perToolPerSecond: N,
  perToolBurst: N,
  sessionConcurrency: N,
  sessionPerSecond: N,
  perClientPerSecond: N,
  perClientBurst: N,
  identityHeader: S,
});
const MCP_PROFILE = { mountPath: S, allow: A, deny: A, maxTools: N, rateLimit: RATE_LIMIT };

export const HARPER_TREE: HarperTree = {
  analytics: obj({ aggregatePeriod: N, aggregateRetentionMs: N, rawRetentionMs: N, replicate: B, storageInterval: N }),
  authentication: obj(
    {
      authorizeLocal: B,
      cacheTTL: N,
      cookie: obj({ domains: A, expires: S }),
      enableSessions: B,
      operationTokenTimeout: NS,
      refreshTokenTimeout: NS,
      hashFunction: S,
    },
    'boolean',
  ),
  applications: obj({
    moduleLoader: S,
    lockdown: S,
    dependencyLoader: S,
    packageManagerPrefix: S,
    allowedBuiltInModules: A,
    allowedSpawnCommands: A,
    allowedDirectory: S,
  }),
  threads: obj(
    {
      count: N, // used by harper-tls (keys.ts, threads.ts): SPEC.md section 8
      debug: obj({ startingPort: N, port: N, host: S, waitForDebugger: B }, 'boolean'),
      maxHeapMemory: N,
      maxIsolated: N,
      heapSnapshotNearLimit: ANY,
      preload: ANY,
      preloadRequire: ANY,
    },
    'number',
  ),
  http: obj({
    sessionAffinity: ANY,
    compressionThreshold: N,
    cors: B,
    corsAccessList: A,
    corsAccessControlAllowHeaders: leaf('string', 'array'),
    headersTimeout: N,
    keepAliveTimeout: N,
    maxParamLength: N,
    timeout: N,
    port: PORT,
    securePort: PORT,
    mtls: MTLS,
    maxHeaderSize: N,
    threadRange: leaf('array', 'string'),
    requestQueueLimit: N,
    maxRequestBodySize: NS,
    http2: B,
  }),
  license: obj({ mode: S, region: S }),
  localStudio: obj({ enabled: B }),
  modelsGateway: obj({ enabled: B }),
  logging: obj({
    colors: B,
    console: B,
    file: B,
    level: S,
    root: S,
    external: obj({ level: S, tag: S, path: S }),
    rotation: obj({ enabled: B, compress: B, interval: S, maxSize: S, path: S, retention: S }),
    stdStreams: B,
    auditLog: B,
    auditRetention: NS,
    auditAuthEvents: obj({ logFailed: B, logSuccessful: B }),
  }),
  operationsApi: obj({
    network: obj({
      cors: B,
      corsAccessList: A,
      headersTimeout: N,
      https: B,
      keepAliveTimeout: N,
      port: PORT,
      domainSocket: S,
      securePort: PORT,
      http2: B,
      maxRequestBodySize: NS,
      timeout: N,
    }),
    componentFile: obj({ maxSize: NS }),
    tls: TLS,
    sysInfo: obj({ network: B, disk: B }),
  }),
  deployment: obj({ payloadRetention: obj({ maxSize: NS }), stagingRetention: obj({ maxCount: N }), startupInstallTimeout: N }),
  mcp: obj({
    operations: obj(MCP_PROFILE),
    application: obj({ ...MCP_PROFILE, searchMaxResults: N }),
    session: obj({ idleTimeoutSeconds: N, allowClientDelete: B }),
  }),
  models: OPEN,
  agent: obj({
    enabled: B,
    provider: S,
    model: S,
    maxTurns: N,
    maxCostUsd: N,
    autoApprove: ANY,
    allowDestructive: B,
    user: S,
    componentsScope: ANY,
    httpFetch: obj({ allow: A }, 'boolean'),
  }),
  replication: obj({
    hostname: NS,
    url: S,
    port: PORT,
    securePort: PORT,
    routes: A,
    databases: leaf('string', 'array'),
    enableRootCAs: B,
    copyTablesToCatchUp: B,
    mtls: obj({ certificateVerification: CERTIFICATE_VERIFICATION }),
    shard: ANY,
    blobTimeout: N,
    blobGapReconnectMs: N,
    blobGapEscalationCycles: N,
    blobGapEscalationMs: N,
    copyCursorFlushBytes: N,
    copyCursorFlushIntervalMs: N,
    blobSendDrainTimeout: N,
    failover: ANY,
    blobConcurrency: N,
    maxPayload: N,
    recordConcurrency: N,
    receiveQueueHighWaterMark: N,
    failedFrameReplays: N,
    pingInterval: N,
    pingTimeout: N,
    copyTimeout: N,
    leadingDuplicateSkip: ANY,
    replayTimeout: N,
  }),
  rootPath: S,
  serialization: obj({ bigInt: ANY }),
  storage: obj({
    writeAsync: B,
    overlappingSync: B,
    caching: B,
    compression: obj({ dictionary: S, threshold: N }, 'boolean'),
    noReadAhead: B,
    randomAccessFields: B,
    prefetchWrites: B,
    encryption: ANY,
    maxTransactionQueueTime: N,
    maxTransactionOpenTime: N,
    maxReadTransactionOpenTime: N,
    debugLongTransactions: B,
    longTransactionReportThreshold: N,
    path: S,
    backupPath: S,
    blobPaths: leaf('string', 'array'),
    blobs: obj({ compression: ANY }),
    blobCleanupSpeed: N,
    blobReadTimeout: N,
    blobRetention: ANY,
    audit: obj({ path: S }),
    maxFreeSpaceToLoad: N,
    maxFreeSpaceToRetain: N,
    pageSize: N,
    compactOnStart: B,
    compactOnStartKeepBackup: B,
    migrateOnStart: B,
    reclamation: obj({ threshold: N, interval: NS, evictionFactor: N }),
    transactionLog: obj({ coolingInterval: NS }),
    engine: S,
    readOnly: B,
    rocks: obj({ compression: ANY, blockCacheSize: N, writeBufferManagerSize: N, writeBufferManagerCostToCache: B, writeBufferManagerAllowStall: B }),
  }),
  databases: OPEN,
  ignoreScripts: B,
  mqtt: obj({
    network: obj({ port: PORT, securePort: PORT, mtls: MTLS }),
    webSocket: B,
    requireAuthentication: B,
  }),
  componentsRoot: S,
  tls: TLS,
  cloned: B,
  node: obj({ hostname: S, url: S }),
  sql: obj({ engine: S, allowFullScan: B, maxSortRows: N, maxHashRows: N }),
  // Sections of Harper 4.x installs that later versions replaced (NATS `clustering`, `customFunctions`):
  // a grown file may still hold them.
  clustering: OPEN,
  customFunctions: OPEN,
};

/** The type names of a value as `HarperType` sees it. */
function typeOf(v: unknown): HarperType[] {
  if (typeof v === 'boolean') return ['boolean'];
  if (typeof v === 'number') return ['number'];
  if (typeof v === 'string') return v.trim() !== '' && Number.isFinite(Number(v)) ? ['string', 'number'] : ['string'];
  if (Array.isArray(v)) return ['array'];
  if (typeof v === 'object' && v !== null) return ['object'];
  return [];
}

/** Whether Harper would accept `v` for `key`'s type (children are checked separately). */
export function harperTypeMatches(key: HarperKey, v: unknown): boolean {
  if (v === null || v === undefined || key.types.includes('any')) return true;
  const actual = typeOf(v);
  return key.types.some((t) => actual.includes(t)) || (key.list === true && Array.isArray(v));
}

/** `['object', 'boolean']` → `an object or true/false`. */
export function describeHarperTypes(types: readonly HarperType[]): string {
  const names: Record<HarperType, string> = { boolean: 'true or false', number: 'a number', string: 'a string', array: 'a list', object: 'an object', any: 'anything' };
  return types.map((t) => names[t]).join(' or ');
}

/** Every key path of the tree (objects included), for `--KEY VALUE` names. */
export function allHarperPaths(tree: HarperTree = HARPER_TREE, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, sub] of Object.entries(tree)) {
    const p = [...prefix, k];
    out.push(p);
    if (sub.keys) out.push(...allHarperPaths(sub.keys, p));
  }
  return out;
}
