import type { ApplicationConfig } from './applications.js';

/**
 * The resolved, validated configuration of harper-tls (SPEC.md section 2).
 * Every value here has had defaults applied, `~` and `<ROOTPATH>` expanded and
 * been validated; consumers trust it and do not re-validate.
 */

/** `fail-open`: an undetermined status is accepted. `fail-closed`: it is rejected. */
export type FailureMode = 'fail-open' | 'fail-closed';

export interface CrlConfig {
  /** default true */
  enabled: boolean;
  /** Download timeout in ms. Default 10000, min 1000. */
  timeout: number;
  /** How long a downloaded CRL is used before it is fetched again, ms. Default 86400000, min 1000. */
  cacheTtl: number;
  /** An expired CRL stays usable until nextUpdate + gracePeriod, ms. Default 86400000, min 0. */
  gracePeriod: number;
  /** What happens on CRL errors. Default 'fail-closed'. */
  failureMode: FailureMode;
}

export interface OcspConfig {
  /** default true */
  enabled: boolean;
  /** Responder timeout in ms. Default 5000, min 1000. */
  timeout: number;
  /** How long a good/revoked answer is cached, ms (bounded by nextUpdate). Default 3600000, min 1000. */
  cacheTtl: number;
  /** How long a failed query is remembered before a retry, ms. Default 300000, min 1000. */
  errorCacheTtl: number;
  /** What happens on OCSP errors. Default 'fail-closed'. */
  failureMode: FailureMode;
}

export interface CertificateVerificationConfig {
  /** Always true once resolved: `certificateVerification: false` resolves to `false`, not to this object. */
  enabled: true;
  /** What happens when no method gives an answer. Default 'fail-closed'. */
  failureMode: FailureMode;
  crl: CrlConfig;
  ocsp: OcspConfig;
}

/**
 * How an mTLS certificate maps to a user (`http.mtls.user`).
 * - `{ kind: 'cn' }`: the subject CN (key absent, `CN` or `Common Name`)
 * - `{ kind: 'fixed', username }`: every mTLS client is that user
 * - `{ kind: 'none' }`: `null`; the certificate authenticates no user
 */
export type MtlsUserMapping =
  | { kind: 'cn' }
  | { kind: 'fixed'; username: string }
  | { kind: 'none' };

export interface MtlsConfig {
  /** Default false. true: the handshake fails without a trusted client certificate. */
  required: boolean;
  user: MtlsUserMapping;
  /** false (default) or the resolved revocation settings. */
  certificateVerification: CertificateVerificationConfig | false;
  /** `http.mtls.forwardedCertificate` (SPEC.md section 7); absent: none is read. */
  forwardedCertificate?: import('./proxies.js').ForwardedCertificateConfig;
}

/** A PEM source: a file path (absolute, expanded) or inline PEM text. */
export interface PemSource {
  /** 'file' when the configured value is a path, 'inline' when it is PEM text. */
  kind: 'file' | 'inline';
  /** Absolute path for 'file'; the PEM text itself for 'inline'. */
  value: string;
  /** True when the value is the built-in default path (so first start may generate it). */
  isDefault: boolean;
  /** Where the value came from, for error messages: e.g. `harperdb-config.yaml:12` or `env HTTP_SECUREPORT`. */
  origin: string;
}

export interface TlsEntry {
  certificate: PemSource;
  privateKey: PemSource;
  /** Absent when no CA is configured (only possible for operationsApi entries that set none and inherit none). */
  certificateAuthority?: PemSource;
  /** SNI names; undefined means "the certificate's SANs". `*.example.com` allowed. */
  host?: string[];
  /**
   * OpenSSL cipher list (TLS 1.2 names; TLS 1.3 suites are the `TLS_` names in it, else Node's
   * TLS 1.3 defaults); undefined means the server's default, Mozilla's "intermediate" profile.
   */
  ciphers?: string;
  /**
   * Seconds a TLS session (ticket or session id) stays resumable; also the ticket lifetime hint
   * sent to clients. Only on the first entry (it holds for the whole listener); undefined means
   * the server's default, 300.
   */
  sessionTimeout?: number;
}

/**
 * CORS of one API (`cors` + `corsAccessList`, Harper's semantics): an `Origin` in `origins`, or any
 * origin when `anyOrigin`, is echoed in `Access-Control-Allow-Origin`.
 */
export interface CorsConfig {
  /** True when the list holds `*`, holds only `null`s, or is empty (as Harper). */
  anyOrigin: boolean;
  /** The listed origins (strings), exactly as configured. */
  origins: string[];
}

/** Timeouts and header limits of a listener; `undefined` means Node's default. */
export interface ListenerLimits {
  /** ms an idle keep-alive connection stays open after a response. Node's default 5000. */
  keepAliveTimeout?: number;
  /** ms a client has to send the complete request headers. Node's default 60000. */
  headersTimeout?: number;
  /** ms of socket inactivity after which the connection is closed. Default 120000 (as Harper). */
  timeout: number;
  /** Largest request header block, bytes. Node's default 16384. */
  maxHeaderSize?: number;
}

export interface ListenerNetwork {
  /** Plain HTTP port, null when disabled. */
  port: number | null;
  /** HTTPS port, null when disabled. */
  securePort: number | null;
  /** false when mTLS is off. */
  mtls: MtlsConfig | false;
  /** false when CORS is off (default). */
  cors: CorsConfig | false;
  limits: ListenerLimits;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogRotationConfig {
  /** Default true (as Harper). */
  enabled: boolean;
  /** gzip rotated files. Default false. */
  compress: boolean;
  /** Rotate every this many ms; null: not by time (default). Configured as `1D`, `12H`, `30m`, `1M` (month). */
  intervalMs: number | null;
  /** The configured interval text, for rotating-file-stream (`1d`, `12h`, `30m`, `1M`). */
  interval: string | null;
  /** Rotate when the file reaches this many bytes; null: not by size. Default `64M`. */
  maxSizeBytes: number | null;
  /** Folder of rotated files (absolute). Default the log folder. */
  path: string;
}

export interface LoggingConfig {
  level: LogLevel;
  /** Write `<root>/hdb.log`. Default true. */
  file: boolean;
  /** The log folder (absolute). Default `<ROOTPATH>/log`. */
  root: string;
  /** Write log lines to stdout too. Default false. */
  stdStreams: boolean;
  rotation: LogRotationConfig;
  /** One audit line per failed (warn) / successful (info) authentication. Both default false. */
  auditAuthEvents: { logFailed: boolean; logSuccessful: boolean };
}

export interface HarperConfig {
  /** Absolute ROOTPATH. */
  rootPath: string;
  /** Absolute path of the config file that was read (or created). */
  configPath: string;
  http: ListenerNetwork & {
    /** ALPN offers `h2` besides `http/1.1` on the HTTPS listener. Default false. */
    http2: boolean;
  } & import('./proxies.js').ProxiesConfig;
  /** One or more entries; several are chosen by SNI. First entry is the default. */
  tls: TlsEntry[];
  operationsApi: {
    network: ListenerNetwork & {
      /** Absolute path of a Unix domain socket the Operations API also listens on; null: none (default). */
      domainSocket: string | null;
    };
    /** Either its own entries or, when not configured, the same entries as `tls`. */
    tls: TlsEntry[];
    /** True when `operationsApi.tls` was configured rather than inherited. */
    tlsInherited: boolean;
  };
  authentication: {
    /** JWT operation token lifetime, as configured (e.g. `1d`); also in ms below. */
    operationTokenTimeout: string;
    operationTokenTimeoutMs: number;
    refreshTokenTimeout: string;
    refreshTokenTimeoutMs: number;
    /** `cacheTTL`: how long a verified credential (Basic, JWT, user lookup) is reused, ms. Default 30000. */
    cacheTtlMs: number;
    /** A loopback or domain-socket request without credentials is the admin user. Default false. */
    authorizeLocal: boolean;
  };
  logging: LoggingConfig;
  /** `storage.path`: where the embedded store lives (absolute). Default `<ROOTPATH>/database`. */
  storage: { path: string };
  /** `node.hostname`: this node's name (default of `cluster.nodeName`). Default the host name. */
  node: { hostname: string };
  /** `applications` as a list (SPEC.md section 6): modules and upstreams behind the application listeners; `[]` when none. */
  applications: ApplicationConfig[];
  /** `cluster` (SPEC.md section 10): absent for one node. */
  cluster?: import('./cluster.js').ClusterConfig;
  /** `threads.count`: workers serving every listener (SPEC.md section 8). Default one less than the CPUs, at least 1. */
  threads: { count: number };
  /** Harper keys present in the configuration that harper-tls does not use, by path (`mqtt`, `http.compressionThreshold`). */
  ignoredHarperKeys: string[];
}
