import 'reflect-metadata';
import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CertGenError, invalid } from './errors.js';
import { checkKeyType, defaultCrypto, DEFAULT_KEY_TYPE, exportPrivateKeyPem, generateKeyPair, importSigningKey, algorithms, type KeyType } from './keys.js';
import { parseSan } from './san.js';
import { checkNewSerialHex, randomSerialHex } from './serial.js';

/** A certificate with its private key, both PEM. */
export interface KeyAndCert {
  certificatePem: string;
  privateKeyPem: string;
  serialHex: string;
}

export type CertificateKind = 'server' | 'client' | 'ocsp-signer';

const DAY_MS = 86_400_000;
/** notBefore is set this far back so a client whose clock is a little behind accepts a fresh certificate. */
export const BACKDATE_MS = 5 * 60_000;
const ID_PKIX_OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
const MAX_CN_LENGTH = 64; // RFC 5280 ub-common-name

interface CommonOptions {
  /** Validity in days. Must be a positive integer. */
  days?: number;
  /** Default `ec-p256`. */
  keyType?: KeyType;
  /** CRL distribution point URL to embed. */
  crlUrl?: string;
  /** OCSP responder URL to embed (Authority Information Access). */
  ocspUrl?: string;
  /** Serial number in hex (positive, at most 20 octets as a DER INTEGER); default a random 128-bit positive value. */
  serialHex?: string;
  /** Clock. Default `() => new Date()`. */
  now?: () => Date;
  /** WebCrypto implementation. Default Node's `crypto.webcrypto`. */
  crypto?: Crypto;
}

function checkDays(days: number | undefined, def: number): number {
  const d = days ?? def;
  if (!Number.isInteger(d) || d <= 0 || d > 36_500) invalid(`days must be a whole number from 1 to 36500; got ${days}`);
  return d;
}

function checkCommonName(cn: unknown): string {
  if (typeof cn !== 'string' || cn.trim() === '') invalid('commonName (CN) is required and must not be empty');
  if (cn.length > MAX_CN_LENGTH) invalid(`commonName is ${cn.length} characters; RFC 5280 allows at most ${MAX_CN_LENGTH}`);
  return cn;
}

function checkUrl(url: string | undefined, what: string): string | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    invalid(`${what} must be an http(s) URL; got "${url}"`);
  }
  return url;
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

function locationExtensions(crlUrl: string | undefined, ocspUrl: string | undefined): x509.Extension[] {
  const out: x509.Extension[] = [];
  if (crlUrl) out.push(new x509.CRLDistributionPointsExtension([crlUrl]));
  if (ocspUrl) out.push(new x509.AuthorityInfoAccessExtension({ ocsp: [ocspUrl] }));
  return out;
}

/** What issuing under a CA needs, parsed and imported once per CA (see issuerContext). */
interface IssuerContext {
  cert: x509.X509Certificate;
  isCa: boolean;
  signing: { key: CryptoKey; signingAlgorithm: Algorithm & Record<string, unknown> };
  /** authorityKeyIdentifier for what it signs: the issuer's own SKI, so chain building matches it. */
  aki: x509.AuthorityKeyIdentifierExtension;
}

/**
 * Parsing the CA certificate and importing its key cost more than generating a P-256 key and
 * signing (OpenSSL 3 key decoding alone is ~1 ms), so the result is kept per WebCrypto
 * implementation for the last few CAs, keyed by a hash of the PEM texts (not the texts).
 * Failures are not kept.
 */
const issuerCache = new WeakMap<Crypto, Map<string, Promise<IssuerContext>>>();
const MAX_CACHED_ISSUERS = 8;

function issuerContext(ca: Pick<KeyAndCert, 'certificatePem' | 'privateKeyPem'>, crypto: Crypto): Promise<IssuerContext> {
  let cache = issuerCache.get(crypto);
  if (!cache) issuerCache.set(crypto, (cache = new Map()));
  const id = createHash('sha256').update(ca.certificatePem).update('\0').update(ca.privateKeyPem).digest('base64');
  let ctx = cache.get(id);
  if (ctx) {
    cache.delete(id); // most recently used last
    cache.set(id, ctx);
    return ctx;
  }
  ctx = (async () => {
    const cert = new x509.X509Certificate(ca.certificatePem);
    const node = new NodeX509(ca.certificatePem);
    const signing = await importSigningKey(ca.privateKeyPem, crypto);
    // A mismatched key would sign certificates nobody can verify.
    if (!node.checkPrivateKey(signing.keyObject)) throw new CertGenError('ERR_CERTGEN_KEY', 'the CA private key does not match the CA certificate');
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId, false) : await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey, false, crypto);
    return { cert, isCa: node.ca, signing, aki };
  })();
  cache.set(id, ctx);
  if (cache.size > MAX_CACHED_ISSUERS) cache.delete(cache.keys().next().value!);
  ctx.catch(() => cache.delete(id));
  return ctx;
}

/**
 * A new key pair, its SubjectPublicKeyInfo (exported once, for the certificate and its SKI), the
 * SKI extension, and the private key PEM, whose export runs while the certificate is built
 * (WebCrypto calls are thread-pool round trips; overlapping them is most of the win).
 */
async function newKey(keyType: KeyType, crypto: Crypto): Promise<{ keys: CryptoKeyPair; spki: ArrayBuffer; ski: x509.SubjectKeyIdentifierExtension; privateKeyPem: Promise<string> }> {
  const keys = await generateKeyPair(keyType, crypto);
  const privateKeyPem = exportPrivateKeyPem(keys.privateKey, crypto);
  privateKeyPem.catch(() => undefined); // awaited by the caller; this only keeps an early throw from leaving it unhandled
  const spki = await crypto.subtle.exportKey('spki', keys.publicKey);
  const keyId = await new x509.PublicKey(spki).getKeyIdentifier(crypto); // SHA-1 of subjectPublicKey, RFC 5280 4.2.1.2 method 1
  return { keys, spki, ski: new x509.SubjectKeyIdentifierExtension(Buffer.from(keyId).toString('hex'), false), privateKeyPem };
}

/**
 * Creates a CA: a self-signed root, or an intermediate when `issuer` is given.
 * basicConstraints cA (critical, with `pathLength` when given), keyUsage keyCertSign + cRLSign
 * (critical), SKI, and AKI for intermediates. Default validity 3650 days.
 */
export async function createCA(opts: CommonOptions & { commonName: string; issuer?: KeyAndCert; pathLength?: number }): Promise<KeyAndCert> {
  const crypto = opts.crypto ?? defaultCrypto;
  const cn = checkCommonName(opts.commonName);
  const days = checkDays(opts.days, 3650);
  const keyType = checkKeyType(opts.keyType ?? DEFAULT_KEY_TYPE);
  if (opts.pathLength !== undefined && (!Number.isInteger(opts.pathLength) || opts.pathLength < 0)) invalid(`pathLength must be a whole number >= 0; got ${opts.pathLength}`);
  const serialHex = opts.serialHex ? checkNewSerialHex(opts.serialHex) : randomSerialHex();
  const { notBefore, notAfter } = validity((opts.now ?? (() => new Date()))(), days);
  const crlUrl = checkUrl(opts.crlUrl, 'crlUrl');
  const ocspUrl = checkUrl(opts.ocspUrl, 'ocspUrl');
  const issuer = opts.issuer ? await issuerContext(opts.issuer, crypto) : undefined;
  if (issuer && !issuer.isCa) invalid('the issuer certificate is not a CA');
  const { keys, spki, ski, privateKeyPem } = await newKey(keyType, crypto);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, opts.pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ski,
  ];
  const name = [{ CN: [cn] }];
  let cert: x509.X509Certificate;
  if (issuer) {
    extensions.push(issuer.aki, ...locationExtensions(crlUrl, ocspUrl));
    cert = await x509.X509CertificateGenerator.create(
      { serialNumber: serialHex, subject: name, issuer: issuer.cert.subjectName, notBefore, notAfter, publicKey: spki, signingKey: issuer.signing.key, signingAlgorithm: issuer.signing.signingAlgorithm, extensions },
      crypto,
    );
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: serialHex, name, notBefore, notAfter, keys, signingAlgorithm: algorithms(keyType).sign, extensions }, crypto);
  }
  return { certificatePem: cert.toString('pem') + '\n', privateKeyPem: await privateKeyPem, serialHex };
}

/**
 * Issues a leaf certificate from `ca`.
 * - server: extendedKeyUsage serverAuth; SANs (DNS incl. wildcards, IP v4/v6); default the CN as a DNS name.
 * - client: extendedKeyUsage clientAuth; CN = the username; optional email/URI/DNS SANs.
 * - ocsp-signer: extendedKeyUsage OCSPSigning and id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1).
 * keyUsage (critical): digitalSignature, plus keyEncipherment for RSA server keys. Default validity 365 days.
 */
export async function issueCertificate(opts: CommonOptions & { ca: KeyAndCert; kind: CertificateKind; commonName: string; sans?: string[] }): Promise<KeyAndCert> {
  const crypto = opts.crypto ?? defaultCrypto;
  const cn = checkCommonName(opts.commonName);
  const days = checkDays(opts.days, 365);
  const keyType = checkKeyType(opts.keyType ?? DEFAULT_KEY_TYPE);
  if (opts.kind !== 'server' && opts.kind !== 'client' && opts.kind !== 'ocsp-signer') invalid(`kind must be server, client or ocsp-signer; got "${String(opts.kind)}"`);
  const sans = (opts.sans ?? []).map(parseSan);
  if (opts.kind === 'server' && sans.length === 0) sans.push(parseSan(cn));
  const crlUrl = checkUrl(opts.crlUrl, 'crlUrl');
  const ocspUrl = checkUrl(opts.ocspUrl, 'ocspUrl');
  const issuer = await issuerContext(opts.ca, crypto);
  if (!issuer.isCa) invalid('the issuing certificate is not a CA (basicConstraints cA=FALSE)');
  const serialHex = opts.serialHex ? checkNewSerialHex(opts.serialHex) : randomSerialHex();
  const { spki, ski, privateKeyPem } = await newKey(keyType, crypto);
  const { notBefore, notAfter } = validity((opts.now ?? (() => new Date()))(), days);
  let usages = x509.KeyUsageFlags.digitalSignature;
  if (opts.kind === 'server' && keyType.startsWith('rsa')) usages |= x509.KeyUsageFlags.keyEncipherment;
  const eku = opts.kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : opts.kind === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.ocspSigning;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension([eku], false),
    ski,
    issuer.aki,
    ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans, false)] : []),
    ...locationExtensions(crlUrl, ocspUrl),
  ];
  if (opts.kind === 'ocsp-signer') extensions.push(new x509.Extension(ID_PKIX_OCSP_NOCHECK, false, new Uint8Array([0x05, 0x00])));
  const cert = await x509.X509CertificateGenerator.create(
    { serialNumber: serialHex, subject: [{ CN: [cn] }], issuer: issuer.cert.subjectName, notBefore, notAfter, publicKey: spki, signingKey: issuer.signing.key, signingAlgorithm: issuer.signing.signingAlgorithm, extensions },
    crypto,
  );
  return { certificatePem: cert.toString('pem') + '\n', privateKeyPem: await privateKeyPem, serialHex };
}
