import { CertGenError } from './errors.js';

/** One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, `X509 CRL`) and DER bytes. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block of a text, in order. */
export function splitPemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64')) });
  return out;
}

/** The DER of the first PEM block (optionally of a given label). */
export function pemToDer(text: string, label?: string): Uint8Array {
  const block = splitPemBlocks(text).find((b) => !label || b.label === label);
  if (!block) throw new CertGenError('ERR_CERTGEN_INVALID_INPUT', `no PEM block${label ? ` "${label}"` : ''} found`);
  return block.der;
}

/** DER to PEM with 64-character lines. */
export function derToPem(der: Uint8Array | ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
}
