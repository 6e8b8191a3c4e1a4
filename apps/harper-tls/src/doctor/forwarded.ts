import type { X509Certificate } from 'node:crypto';
import type { HarperConfig } from '@harper-tls/config';
import { decodeForwardedCertificate, type ForwardedFormat } from '@harper-tls/mtls-auth';
import { CliError } from '../errors.js';
import { readUserFile } from '../commands/files.js';

const FORMATS: readonly ForwardedFormat[] = ['xfcc', 'pem-urlencoded', 'der-base64'];

/**
 * `doctor --forwarded VALUE|@FILE [--format F]`: the certificates a trusted proxy's header value
 * holds, decoded by the server's own decoder (`@harper-tls/mtls-auth` decodeForwardedCertificate),
 * leaf first. `format` defaults to `http.mtls.forwardedCertificate.format`. A value the server
 * would refuse is a CliError carrying the status the server would answer (400 or 401) and why.
 */
export function readForwarded(config: HarperConfig, value: string, format: string | undefined): { certificates: X509Certificate[]; format: ForwardedFormat; header?: string; refused?: string } {
  const configured = config.http.mtls ? config.http.mtls.forwardedCertificate : undefined;
  const f = (format ?? configured?.format) as ForwardedFormat | undefined;
  if (f === undefined) throw new CliError('--format xfcc|pem-urlencoded|der-base64 is needed: http.mtls.forwardedCertificate is not configured');
  if (!FORMATS.includes(f)) throw new CliError(`--format must be one of ${FORMATS.join(', ')}; got "${f}"`);
  const text = value.startsWith('@') ? readUserFile(value.slice(1), '--forwarded').toString('utf8').replace(/\r?\n$/, '') : value;
  // A pasted "Header-Name: value" line is read as its value.
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*([\s\S]*)$/.exec(text);
  const headerValue = m && !/^(cert|hash|by|chain|subject|uri|dns)=/i.test(text) && !text.startsWith('-----') ? m[2]! : text;
  const decoded = decodeForwardedCertificate(f, [headerValue]);
  if (decoded.kind === 'none') throw new CliError('--forwarded: the value is empty; the server would see no forwarded certificate');
  if (decoded.kind === 'bad') return { certificates: [], format: f, header: configured?.header, refused: `${decoded.status} ${decoded.status === 400 ? '{"error":"The forwarded client certificate header cannot be decoded"}' : '{"error":"Login failed"}'}: ${decoded.reason}` };
  return { certificates: decoded.certificates, format: f, header: configured?.header };
}
