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
  LogLevel,
  HarperConfig,
} from './types.js';
export { HarperTlsError, isHarperTlsError } from './errors.js';
