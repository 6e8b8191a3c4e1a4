import { CLUSTER_KEYS } from './cluster.js';
/**
 * The tree of configuration keys (SPEC.md section 2). `null` marks a leaf; an object lists the
 * keys a value of that shape may have. Used for unknown-key detection, suggestions, and the
 * environment / command-line names (path upper-cased, joined by `_`).
 */
export type KeyTree = { readonly [key: string]: KeyTree | null };

const REVOCATION_METHOD_CRL: KeyTree = { enabled: null, timeout: null, cacheTtl: null, gracePeriod: null, failureMode: null };
const REVOCATION_METHOD_OCSP: KeyTree = { enabled: null, timeout: null, cacheTtl: null, errorCacheTtl: null, failureMode: null };

export const MTLS_KEYS: KeyTree = {
  required: null,
  user: null,
  certificateVerification: { failureMode: null, crl: REVOCATION_METHOD_CRL, ocsp: REVOCATION_METHOD_OCSP },
};

export const TLS_KEYS: KeyTree = { certificate: null, privateKey: null, certificateAuthority: null, host: null, ciphers: null, sessionTimeout: null };

/** Keys every listener has (SPEC.md sections 2 and 11): ports, mTLS, CORS, timeouts and header limits. */
const LISTENER_KEYS = {
  port: null,
  securePort: null,
  mtls: MTLS_KEYS,
  cors: null,
  corsAccessList: null,
  keepAliveTimeout: null,
  headersTimeout: null,
  timeout: null,
  maxHeaderSize: null,
} as const;

export const KEY_TREE: KeyTree = {
  rootPath: null,
  http: { ...LISTENER_KEYS, mtls: { ...MTLS_KEYS, forwardedCertificate: { header: null, format: null } }, http2: null, trustedProxies: null, proxyProtocol: null },
  tls: TLS_KEYS,
  operationsApi: { network: { ...LISTENER_KEYS, domainSocket: null }, tls: TLS_KEYS },
  authentication: { operationTokenTimeout: null, refreshTokenTimeout: null, cacheTTL: null, authorizeLocal: null },
  logging: {
    level: null,
    file: null,
    root: null,
    stdStreams: null,
    rotation: { enabled: null, compress: null, interval: null, maxSize: null, path: null },
    auditAuthEvents: { logFailed: null, logSuccessful: null },
  },
  storage: { path: null },
  node: { hostname: null },
  cluster: CLUSTER_KEYS,
  threads: { count: null },
};

/** Every key path of the tree, objects included: `['http'], ['http','port'], ...`. */
export function allPaths(tree: KeyTree = KEY_TREE, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, sub] of Object.entries(tree)) {
    const p = [...prefix, k];
    out.push(p);
    if (sub) out.push(...allPaths(sub, p));
  }
  return out;
}

/** `['http','securePort']` → `HTTP_SECUREPORT`. */
export function envName(path: readonly string[]): string {
  return path.join('_').toUpperCase();
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The closest known key to `key`, when it is close enough to be a typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : distance(key.toLowerCase(), k.toLowerCase());
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 4)) ? best.k : undefined;
}
