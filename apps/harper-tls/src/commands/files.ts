import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CliError } from '../errors.js';

/** Reads a file a user named on the command line; a missing or unreadable one is a one-line error. */
export function readUserFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new CliError(`${flag} ${path}: ${why}`);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Certificates in a file: every PEM block, or the whole file as one DER certificate (checked to parse). */
export function readCertificates(path: string, flag: string): Uint8Array[] {
  const bytes = readUserFile(path, flag);
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks = text.match(PEM_CERT);
    if (!blocks) {
      const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) ? ' (it holds a private key: give the certificate, e.g. NAME.pem rather than NAME-key.pem)' : '';
      throw new CliError(`${flag} ${path}: no "BEGIN CERTIFICATE" block in this PEM file${key}`);
    }
    return blocks.map((b) => new Uint8Array(Buffer.from(b.replace(/-----[^-]+-----|\s/g, ''), 'base64')));
  }
  if (bytes.length === 0) throw new CliError(`${flag} ${path}: the file is empty`);
  try {
    new X509Certificate(bytes);
  } catch {
    throw new CliError(`${flag} ${path}: not a certificate (neither a PEM "BEGIN CERTIFICATE" block nor DER X.509)`);
  }
  return [new Uint8Array(bytes)];
}
