import { X509Certificate } from 'node:crypto';
import { parseCertificates, parseKey, dnsNames } from '../tls/material.js';
import { ServerError } from '../errors.js';

export type CertificateUse = 'https' | 'operations-api';
const USES: readonly CertificateUse[] = ['https', 'operations-api'];

/** A certificate added at run time (its key is never returned, and never stored in the database: see key-files.ts). */
export interface StoredCertificate {
  name: string;
  /** PEM: the certificate, followed by its chain for server certificates. */
  certificate: string;
  privateKey?: string;
  isAuthority: boolean;
  hosts: string[];
  uses: CertificateUse[];
  addedAt: string;
}

function bad(message: string): never {
  throw new ServerError('ERR_SERVER_CERTIFICATE', message);
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(`"${key}" must be a string`);
  return v;
}

function stringList(body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || x.length === 0)) bad(`"${key}" must be a string or an array of non-empty strings`);
  return list as string[];
}

function commonName(cert: X509Certificate): string | undefined {
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN='));
  return cns.length === 1 ? cns[0]!.slice(3) : undefined;
}

/**
 * Validates an `add_certificate` request: PEM parses, the key (when given) matches, the
 * certificate is within its validity window, an authority has CA basic constraints, a server
 * certificate comes with its key. Every rejection is a 400 with the reason.
 */
export function validateAddCertificate(body: Record<string, unknown>, now: Date): StoredCertificate {
  const certificate = optionalString(body, 'certificate');
  if (!certificate) bad('"certificate" (PEM text) is required');
  // It is stored as sent: a combined certificate+key PEM would put the key in the database in clear.
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(certificate)) bad('"certificate" contains a private key: send only the certificate (and its chain) in "certificate" and the key in "private_key"');
  const privateKey = optionalString(body, 'private_key');
  const isAuthorityRaw = body.is_authority ?? false;
  if (typeof isAuthorityRaw !== 'boolean') bad('"is_authority" must be true or false');
  const isAuthority = isAuthorityRaw;
  const chain = parseCertificates(certificate, 'certificate');
  const leaf = chain[0]!;
  const from = new Date(leaf.validFrom);
  const to = new Date(leaf.validTo);
  if (to.getTime() <= now.getTime()) bad(`the certificate expired on ${to.toISOString()}`);
  if (from.getTime() > now.getTime()) bad(`the certificate is not valid before ${from.toISOString()}`);
  if (isAuthority) {
    for (const [i, c] of chain.entries()) if (!c.ca) bad(`certificate #${i + 1} (${c.subject.replace(/\n/g, ', ')}) is not a CA: it lacks basicConstraints cA=TRUE, so it cannot be added with is_authority`);
  } else {
    if (!privateKey) bad('a server certificate needs its "private_key" (or set "is_authority": true to add a CA)');
  }
  if (privateKey) {
    const key = parseKey(privateKey, 'private_key');
    if (!leaf.checkPrivateKey(key)) bad('"private_key" does not match the certificate');
  }
  const given = optionalString(body, 'name');
  // An empty name could never be removed (remove_certificate refuses it) and is dropped at restart.
  if (given !== undefined && given.trim() === '') bad('"name" must not be empty (leave it out to use the certificate\'s CN)');
  const name = given ?? (commonName(leaf) || leaf.fingerprint256);
  if (name.length > 256 || /[\u0000-\u001f]/.test(name)) bad('"name" must be at most 256 characters without control characters');
  const uses = (stringList(body, 'uses') ?? ['https']) as CertificateUse[];
  for (const u of uses) if (!USES.includes(u)) bad(`"uses" entries must be one of ${USES.join(', ')}; got "${u}"`);
  const hosts = stringList(body, 'hosts') ?? (isAuthority ? [] : dnsNames(leaf));
  return { name, certificate, privateKey, isAuthority, hosts: hosts.map((h) => h.toLowerCase()), uses, addedAt: now.toISOString() };
}

/** What list_certificates shows of a certificate: never a key. */
export interface CertificateInfo {
  name: string;
  subject: string;
  issuer: string;
  subject_alt_names: string[];
  serial_number: string;
  valid_from: string;
  valid_to: string;
  is_authority: boolean;
  hosts: string[];
  uses: CertificateUse[];
  source: 'config' | 'runtime';
  fingerprint256: string;
}

export function describeCertificate(pem: string, extra: Pick<CertificateInfo, 'name' | 'is_authority' | 'hosts' | 'uses' | 'source'>): CertificateInfo {
  const c = new X509Certificate(pem);
  return {
    name: extra.name,
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    subject_alt_names: c.subjectAltName ? c.subjectAltName.split(/,\s*/) : [],
    serial_number: c.serialNumber.toLowerCase(),
    valid_from: new Date(c.validFrom).toISOString(),
    valid_to: new Date(c.validTo).toISOString(),
    is_authority: extra.is_authority,
    hosts: extra.hosts,
    uses: extra.uses,
    source: extra.source,
    fingerprint256: c.fingerprint256,
  };
}
