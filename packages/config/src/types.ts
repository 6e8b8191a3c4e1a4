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
  /** OpenSSL cipher list; undefined means Node's default. */
  ciphers?: string;
}

export interface ListenerNetwork {
  /** Plain HTTP port, null when disabled. */
  port: number | null;
  /** HTTPS port, null when disabled. */
  securePort: number | null;
  /** false when mTLS is off. */
  mtls: MtlsConfig | false;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface HarperConfig {
  /** Absolute ROOTPATH. */
  rootPath: string;
  /** Absolute path of the config file that was read (or created). */
  configPath: string;
  http: ListenerNetwork;
  /** One or more entries; several are chosen by SNI. First entry is the default. */
  tls: TlsEntry[];
  operationsApi: {
    network: ListenerNetwork;
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
  };
  logging: { level: LogLevel };
}
