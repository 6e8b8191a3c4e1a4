export type {
  FailureMode,
  CrlConfig,
  OcspConfig,
  CertificateVerificationConfig,
  MtlsUserMapping,
  MtlsConfig,
  PemSource,
  TlsEntry,
  ListenerNetwork,
  ListenerLimits,
  CorsConfig,
  LogLevel,
  LoggingConfig,
  LogRotationConfig,
  HarperConfig,
} from './types.js';
export { HarperTlsError, isHarperTlsError } from './errors.js';
export { ConfigError, formatIssue, formatIssues } from './issues.js';
export type { ConfigIssue } from './issues.js';
export { loadConfig } from './load.js';
export type { LoadConfigOptions, LoadConfigResult } from './load.js';
export { resolveRootPath } from './root.js';
export { parseDuration } from './duration.js';
export { readPemSource, validateTlsMaterial } from './pem.js';
export { DEFAULT_CONFIG_YAML } from './default-config.js';
export { defaultCertificateVerification, CRL_DEFAULTS, OCSP_DEFAULTS } from './mtls.js';
export { KEY_TREE } from './keys.js';
export { normalizeCertificateVerification } from './certificate-verification.js';
export type { NormalizedCertificateVerification } from './certificate-verification.js';
export { HARPER_TREE } from './harper-schema.js';
export { APPLICATION_KEYS } from './applications.js';
export { normalizePathEscapes } from './path-escapes.js';
export type { PathEscapes } from './path-escapes.js';
export type { ApplicationConfig, ApplicationAuth, ModuleApplication, UpstreamApplication, UpstreamTlsConfig } from './applications.js';
export type { HarperKey, HarperTree, HarperType } from './harper-schema.js';
export { FORWARDED_CERTIFICATE_HEADERS, proxyEntryProblem } from './proxies.js';
export type { ForwardedCertificateConfig, ForwardedCertificateFormat, ProxiesConfig } from './proxies.js';
export { CLUSTER_KEYS } from './cluster.js';
export type { ClusterConfig } from './cluster.js';
export { readThreads, defaultThreadCount, MAX_THREADS } from './threads.js';
