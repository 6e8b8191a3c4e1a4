import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { createCA, issueCertificate, type KeyAndCert } from './certificate.js';
import { CertGenError } from './errors.js';
import { recoverFileGroup, replaceFileGroup } from './replace-files.js';
import { DEFAULT_KEY_TYPE, type KeyType } from './keys.js';

export const FILES = { ca: 'ca.pem', caKey: 'ca-privateKey.pem', certificate: 'certificate.pem', privateKey: 'privateKey.pem' } as const;
/** Records which files harper-tls wrote (name → sha256), so user-supplied files are never replaced. */
export const MANIFEST = '.harper-tls-generated.json';
/** The group name of `replaceFileGroup` for the key directory (its journal: `.keys.journal`). */
const GROUP = 'keys';
const GROUP_FILES = [...Object.values(FILES), MANIFEST];
const DAY_MS = 86_400_000;
/** Validity of generated certificates, days. */
export const CA_DAYS = 3650;
export const SERVER_DAYS = 365;
/** A generated CA this close to expiry is renewed by renew-certs, days. */
export const RENEW_CA_WITHIN_DAYS = 30;

type FileKey = keyof typeof FILES;
export type KeyPaths = Record<FileKey, string>;

interface Options {
  keysDir: string;
  /** Extra SANs for the server certificate, besides localhost, 127.0.0.1, ::1 and the host name. */
  hostnames?: string[];
  keyType?: KeyType;
  now?: () => Date;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

class KeyDir {
  readonly paths: KeyPaths;
  manifest: Record<string, string> = {};
  contents: Partial<Record<FileKey, string>> = {};

  constructor(readonly dir: string) {
    this.paths = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, join(dir, f)])) as KeyPaths;
  }

  /** Files a crashed replacement was putting in place, found and finished by `load`. */
  recovered: string[] = [];

  async load(): Promise<void> {
    // First finish (or undo) a replacement a crash interrupted: all old or all new, never a mix.
    this.recovered = recoverKeysDir(this.dir);
    try {
      this.manifest = JSON.parse(await readFile(join(this.dir, MANIFEST), 'utf8')).files ?? {};
    } catch {
      this.manifest = {};
    }
    for (const k of Object.keys(FILES) as FileKey[]) {
      try {
        this.contents[k] = await readFile(this.paths[k], 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CertGenError('ERR_CERTGEN_FILES', `cannot read ${this.paths[k]}: ${(err as Error).message}`);
      }
    }
  }

  exists(k: FileKey): boolean {
    return this.contents[k] !== undefined;
  }

  /** Written by harper-tls and unchanged since. */
  ours(k: FileKey): boolean {
    const text = this.contents[k];
    return text !== undefined && this.manifest[FILES[k]] === sha256(text);
  }

  /**
   * Replaces files (a key and its certificate, or both pairs) and the manifest that records them
   * as one group (`replaceFileGroup`): a crash anywhere leaves, after the next `load`, the old set
   * or the new one, so a key never meets a certificate of another pair.
   */
  async write(entries: Partial<Record<FileKey, string>>): Promise<void> {
    const keys = Object.keys(entries) as FileKey[];
    const manifest = { ...this.manifest };
    for (const k of keys) manifest[FILES[k]] = sha256(entries[k]!);
    await replaceFileGroup(this.dir, GROUP, [
      ...keys.map((k) => ({ name: FILES[k], data: entries[k]!, mode: k === 'caKey' || k === 'privateKey' ? 0o600 : 0o644 })),
      { name: MANIFEST, data: JSON.stringify({ files: manifest }, null, 2) + '\n', mode: 0o644 },
    ]);
    this.manifest = manifest;
    Object.assign(this.contents, entries);
  }

  /** A pair that may be (re)generated: missing, or entirely ours. Throws for a half of a user's pair. */
  replaceable(a: FileKey, b: FileKey): boolean {
    const present = [a, b].filter((k) => this.exists(k));
    if (present.length === 0) return true;
    const foreign = present.filter((k) => !this.ours(k));
    if (foreign.length === 0) return true;
    if (present.length === 2) return false;
    throw new CertGenError(
      'ERR_CERTGEN_FILES',
      `${this.paths[foreign[0]!]} exists but ${this.paths[a === foreign[0] ? b : a]} does not, and harper-tls did not create the first one, so it will not replace it; add the missing file or remove the other`,
    );
  }
}

/**
 * Finishes a replacement of the generated key files that a crash interrupted (see
 * `replaceFileGroup`), so a reader never sees a key of one set beside a certificate of another.
 * Every reader of `<ROOTPATH>/keys` runs it first; synchronous for synchronous readers. Returns
 * the files it put in place.
 */
export function recoverKeysDir(keysDir: string): string[] {
  return existsSync(keysDir) ? recoverFileGroup(keysDir, GROUP, GROUP_FILES) : [];
}

function serverNames(hostnames: string[] = []): string[] {
  const names = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const host = osHostname().toLowerCase();
  if (host && host !== 'localhost' && /^[a-z0-9.-]+$/.test(host)) names.push(`DNS:${host}`);
  for (const h of hostnames) names.push(h.includes(':') ? h : `DNS:${h}`);
  return [...new Set(names)];
}

function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function newCa(opts: Options): Promise<KeyAndCert> {
  return createCA({ commonName: `harper-tls Root CA ${osHostname()}`.slice(0, 64), days: CA_DAYS, keyType: opts.keyType ?? DEFAULT_KEY_TYPE, now: opts.now });
}

function newServer(ca: KeyAndCert, opts: Options): Promise<KeyAndCert> {
  return issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: serverNames(opts.hostnames), days: SERVER_DAYS, keyType: opts.keyType ?? DEFAULT_KEY_TYPE, now: opts.now });
}

function issuedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/**
 * The user replaced the generated ca.pem with a CA of their own (say, the one of their client
 * certificates; SPEC.md section 1: kept and reused) and the generated ca-privateKey.pem is still
 * there: not a pair, so there is no local CA to sign with. Not an error.
 */
function caReplaced(kd: KeyDir): boolean {
  return kd.exists('ca') && !kd.ours('ca') && kd.ours('caKey') && !keyMatches(kd.contents.ca!, kd.contents.caKey!);
}

/** Why no certificate can be issued here although both CA files exist. */
function noLocalCaText(kd: KeyDir): string {
  return `${kd.paths.ca} is not the CA harper-tls generated (it was replaced), so ${kd.paths.caKey} cannot sign for it: there is no local CA`;
}

function currentCa(kd: KeyDir): KeyAndCert | undefined {
  if (!kd.exists('ca') || !kd.exists('caKey') || caReplaced(kd)) return undefined;
  if (!keyMatches(kd.contents.ca!, kd.contents.caKey!)) {
    throw new CertGenError('ERR_CERTGEN_FILES', `${kd.paths.caKey} does not match ${kd.paths.ca}`);
  }
  return { certificatePem: kd.contents.ca!, privateKeyPem: kd.contents.caKey!, serialHex: new X509Certificate(kd.contents.ca!).serialNumber.toLowerCase() };
}

/**
 * A pair harper-tls generated that no longer fits together: the process died between the two
 * atomic writes of a renewal (new key, old certificate; or a new CA whose server certificate was
 * not reissued yet). Only files that are entirely ours are ever called broken, so repairing them
 * replaces nothing of the user's.
 */
function brokenCa(kd: KeyDir): boolean {
  return kd.ours('ca') && kd.ours('caKey') && !keyMatches(kd.contents.ca!, kd.contents.caKey!);
}

function brokenServer(kd: KeyDir, ca: KeyAndCert | undefined, caOurs: boolean): boolean {
  if (!kd.ours('certificate') || !kd.ours('privateKey')) return false;
  if (!keyMatches(kd.contents.certificate!, kd.contents.privateKey!)) return true;
  return caOurs && ca !== undefined && !issuedBy(kd.contents.certificate!, ca.certificatePem);
}

/**
 * First start: in `keysDir`, creates what is missing of a self-signed CA (`ca.pem`,
 * `ca-privateKey.pem`) and a server certificate signed by it (`certificate.pem`,
 * `privateKey.pem`; SANs localhost, 127.0.0.1, ::1 and the host name). Keys are 0600, every
 * file is written atomically, and existing files are reused; a half of a pair that harper-tls
 * did not write is never replaced (ERR_CERTGEN_FILES). Generated pairs left inconsistent by a
 * crash during `renew-certs` are regenerated and listed in `repaired`; a replacement a crash
 * interrupted is first finished (`recovered`: the files it put in place, all of one set).
 */
export async function ensureSelfSignedCertificates(opts: Options): Promise<{ generated: boolean; repaired: string[]; recovered: string[]; paths: KeyPaths }> {
  const kd = new KeyDir(opts.keysDir);
  await kd.load();
  let generated = false;
  const repaired: string[] = [];
  const caBroken = brokenCa(kd);
  let ca = caBroken ? undefined : currentCa(kd);
  const caIncomplete = !kd.exists('ca') || !kd.exists('caKey');
  const pending: Partial<Record<FileKey, string>> = {};
  if (caBroken || (caIncomplete && kd.replaceable('ca', 'caKey'))) {
    ca = await newCa(opts);
    Object.assign(pending, { ca: ca.certificatePem, caKey: ca.privateKeyPem });
    generated = true;
    if (caBroken) repaired.push(kd.paths.ca, kd.paths.caKey);
  }
  const serverIncomplete = !kd.exists('certificate') || !kd.exists('privateKey');
  // A server pair we generated under a CA that was just replaced must be reissued too.
  const orphaned = generated && kd.ours('certificate') && kd.ours('privateKey');
  const serverBroken = !orphaned && brokenServer(kd, ca, kd.ours('ca') && kd.ours('caKey'));
  if ((serverIncomplete || orphaned || serverBroken) && kd.replaceable('certificate', 'privateKey')) {
    if (!ca) throw new CertGenError('ERR_CERTGEN_FILES', `cannot issue ${kd.paths.certificate}: ${caReplaced(kd) ? `${noLocalCaText(kd)}; supply certificate.pem and privateKey.pem yourself` : `no CA key at ${kd.paths.caKey}`}`);
    const server = await newServer(ca, opts);
    Object.assign(pending, { certificate: server.certificatePem, privateKey: server.privateKeyPem });
    generated = true;
    if (serverBroken) repaired.push(kd.paths.certificate, kd.paths.privateKey);
  }
  // Both pairs, when both are new, and the manifest: one replacement.
  if (generated) await kd.write(pending);
  return { generated, repaired, recovered: kd.recovered, paths: kd.paths };
}

export interface RenewResult {
  renewed: string[];
  skipped: Array<{ file: string; reason: string }>;
}

/**
 * `renew-certs`: reissues the generated server certificate, and the generated CA when it expires
 * within 30 days or `renewCa` is set (keeping the CA key otherwise, so clients keep trusting it).
 * Files harper-tls did not write, or that were changed since, are left alone and reported.
 */
export async function renewSelfSignedCertificates(opts: Options & { renewCa?: boolean }): Promise<RenewResult> {
  const kd = new KeyDir(opts.keysDir);
  await kd.load();
  const now = (opts.now ?? (() => new Date()))();
  const result: RenewResult = { renewed: [], skipped: [] };
  let ca = brokenCa(kd) ? undefined : currentCa(kd);
  const caOurs = kd.ours('ca') && kd.ours('caKey');
  const caDue = ca ? expiringWithin(ca.certificatePem, RENEW_CA_WITHIN_DAYS, now) : true;
  const pending: Partial<Record<FileKey, string>> = {};
  if ((opts.renewCa || caDue || !ca) && caOurs) {
    ca = await newCa(opts);
    Object.assign(pending, { ca: ca.certificatePem, caKey: ca.privateKeyPem });
    result.renewed.push(kd.paths.ca, kd.paths.caKey);
  } else if (opts.renewCa && !caOurs) {
    result.skipped.push({ file: kd.paths.ca, reason: 'not generated by harper-tls (or changed since), so it is yours to renew' });
  } else if (!ca && !caReplaced(kd)) {
    throw new CertGenError('ERR_CERTGEN_FILES', `no CA in ${opts.keysDir}; start the server once to generate one`);
  }
  const reissue = kd.ours('certificate') && kd.ours('privateKey');
  if (!reissue && kd.exists('certificate')) {
    result.skipped.push({ file: kd.paths.certificate, reason: 'not generated by harper-tls (or changed since), so it is yours to renew' });
  } else if (!ca) {
    // ca.pem replaced by the user's own CA: nothing here can sign a server certificate.
    result.skipped.push({ file: kd.paths.certificate, reason: `cannot be reissued: ${noLocalCaText(kd)}; replace it yourself` });
  } else if (reissue || kd.replaceable('certificate', 'privateKey')) {
    const server = await newServer(ca!, opts);
    Object.assign(pending, { certificate: server.certificatePem, privateKey: server.privateKeyPem });
    result.renewed.push(kd.paths.certificate, kd.paths.privateKey);
  }
  // The new CA and the server certificate it signs, and the manifest: one replacement.
  if (Object.keys(pending).length) await kd.write(pending);
  return result;
}

/** True when the certificate's notAfter is within `days` of `now` (or already past). */
export function expiringWithin(certPem: string, days: number, now: Date = new Date()): boolean {
  return new Date(new X509Certificate(certPem).validTo).getTime() - now.getTime() < days * DAY_MS;
}
