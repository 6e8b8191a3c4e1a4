import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readPemSource, type PemSource, type TlsEntry } from '@harper-tls/config';
import { ServerError } from '../errors.js';
import { CaBundleCache, EMPTY_CA_BUNDLE, splitCertificates, type CaBundle } from './ca-bundle.js';

/** One loaded certificate entry: the served chain, its key, the client CAs and the SNI names. */
export interface LoadedTlsEntry {
  /** Served chain, leaf first (PEM). */
  certPem: string;
  keyPem: string;
  leaf: X509Certificate;
  /** CA certificates trusted for client certificates (possibly none), parsed once per distinct set and shared. */
  caBundle: CaBundle;
  /** SNI names (lower case); from `tls.host` or the certificate's DNS SANs. */
  hosts: string[];
  /** OpenSSL cipher list; undefined: DEFAULT_CIPHERS. */
  ciphers?: string;
  /** `tls.sessionTimeout` (seconds); only the listener's default entry's counts. */
  sessionTimeout?: number;
  /** Where it came from, for logs and list_certificates. */
  name: string;
}

export { splitCertificates };

/** DNS names from a certificate's subjectAltName (IP addresses are not SNI names). */
export function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (!san) return [];
  return san
    .split(/,\s*/)
    .filter((p) => p.startsWith('DNS:'))
    .map((p) => p.slice(4).toLowerCase());
}

export function parseKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new ServerError('ERR_SERVER_TLS_MATERIAL', `${what}: not a readable private key (${(err as Error).message})`);
  }
}

export function parseCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = splitCertificates(pem);
  if (blocks.length === 0) throw new ServerError('ERR_SERVER_TLS_MATERIAL', `${what}: no PEM certificate found`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ServerError('ERR_SERVER_TLS_MATERIAL', `${what}: certificate #${i + 1} is not valid (${(err as Error).message})`);
    }
  });
}

/**
 * Builds a loaded entry from PEM texts, checking that the key matches the leaf.
 * @param bundles where CA sets are interned; default a new cache (nothing shared). Pass the
 *   registry's cache so that entries with the same CA text share one parsed bundle.
 */
export function buildEntry(input: { certPem: string; keyPem: string; caPem?: string; hosts?: string[]; ciphers?: string; sessionTimeout?: number; name: string }, bundles: CaBundleCache = new CaBundleCache()): LoadedTlsEntry {
  const chain = parseCertificates(input.certPem, `${input.name} certificate`);
  const leaf = chain[0]!;
  const key = parseKey(input.keyPem, `${input.name} private key`);
  if (!leaf.checkPrivateKey(key)) {
    throw new ServerError('ERR_SERVER_TLS_MATERIAL', `${input.name}: the private key does not match the certificate ${leaf.subject.replace(/\n/g, ', ')}`);
  }
  const caBundle = input.caPem ? bundles.fromPemText(input.caPem, `${input.name} certificate authority`) : EMPTY_CA_BUNDLE;
  const hosts = (input.hosts?.length ? input.hosts : dnsNames(leaf)).map((h) => h.toLowerCase());
  return { certPem: input.certPem, keyPem: input.keyPem, leaf, caBundle, hosts, ciphers: input.ciphers, ...(input.sessionTimeout !== undefined ? { sessionTimeout: input.sessionTimeout } : {}), name: input.name };
}

/** Reads PEM sources, each distinct file or inline text once per instance (one load pass). */
export function pemReader(): (src: PemSource) => string {
  const seen = new Map<string, string>();
  return (src) => {
    const key = `${src.kind}:${src.value}`;
    let text = seen.get(key);
    if (text === undefined) {
      text = readPemSource(src);
      seen.set(key, text);
    }
    return text;
  };
}

/** Loads a configured `tls` entry (files or inline PEM). `opts.read` / `opts.bundles` let a load pass share file reads and parsed CA sets. */
export function loadConfiguredEntry(entry: TlsEntry, name: string, opts: { read?: (src: PemSource) => string; bundles?: CaBundleCache } = {}): LoadedTlsEntry {
  const read = opts.read ?? ((src: PemSource) => readPemSource(src));
  return buildEntry(
    {
      certPem: read(entry.certificate),
      keyPem: read(entry.privateKey),
      caPem: entry.certificateAuthority ? read(entry.certificateAuthority) : undefined,
      hosts: entry.host,
      ciphers: entry.ciphers,
      sessionTimeout: entry.sessionTimeout,
      name,
    },
    opts.bundles,
  );
}
