import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readPemSource, type TlsEntry } from '@harper-tls/config';
import { ServerError } from '../errors.js';

/** One loaded certificate entry: the served chain, its key, the client CAs and the SNI names. */
export interface LoadedTlsEntry {
  /** Served chain, leaf first (PEM). */
  certPem: string;
  keyPem: string;
  leaf: X509Certificate;
  /** CA certificates trusted for client certificates (PEM blocks), possibly empty. */
  caPems: string[];
  cas: X509Certificate[];
  /** SNI names (lower case); from `tls.host` or the certificate's DNS SANs. */
  hosts: string[];
  ciphers?: string;
  /** Where it came from, for logs and list_certificates. */
  name: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitCertificates(pem: string): string[] {
  return pem.match(PEM_CERT) ?? [];
}

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

/** Builds a loaded entry from PEM texts, checking that the key matches the leaf. */
export function buildEntry(input: { certPem: string; keyPem: string; caPem?: string; hosts?: string[]; ciphers?: string; name: string }): LoadedTlsEntry {
  const chain = parseCertificates(input.certPem, `${input.name} certificate`);
  const leaf = chain[0]!;
  const key = parseKey(input.keyPem, `${input.name} private key`);
  if (!leaf.checkPrivateKey(key)) {
    throw new ServerError('ERR_SERVER_TLS_MATERIAL', `${input.name}: the private key does not match the certificate ${leaf.subject.replace(/\n/g, ', ')}`);
  }
  const caPems = input.caPem ? splitCertificates(input.caPem) : [];
  const cas = caPems.length ? parseCertificates(input.caPem!, `${input.name} certificate authority`) : [];
  const hosts = (input.hosts?.length ? input.hosts : dnsNames(leaf)).map((h) => h.toLowerCase());
  return { certPem: input.certPem, keyPem: input.keyPem, leaf, caPems, cas, hosts, ciphers: input.ciphers, name: input.name };
}

/** Loads a configured `tls` entry (files or inline PEM). */
export function loadConfiguredEntry(entry: TlsEntry, name: string): LoadedTlsEntry {
  return buildEntry({
    certPem: readPemSource(entry.certificate),
    keyPem: readPemSource(entry.privateKey),
    caPem: entry.certificateAuthority ? readPemSource(entry.certificateAuthority) : undefined,
    hosts: entry.host,
    ciphers: entry.ciphers,
    name,
  });
}
