import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { HarperConfig, PemSource, TlsEntry } from './types.js';
import { ConfigError, type ConfigIssue } from './issues.js';

function sourceIssue(key: string, src: PemSource, message: string): ConfigIssue {
  const m = /^(.*):(\d+)$/.exec(src.origin);
  const fromFile = m && !src.origin.startsWith('env ') && !src.origin.startsWith('--');
  return {
    key,
    source: fromFile ? 'file' : src.origin === 'default' ? 'default' : src.origin.startsWith('env ') ? 'env' : 'cli',
    ...(fromFile ? { file: m![1], line: Number(m![2]) } : {}),
    ...(src.origin.startsWith('env ') ? { name: src.origin.slice(4) } : src.origin.startsWith('--') ? { name: src.origin } : {}),
    value: src.kind === 'file' ? src.value : '(inline PEM)',
    message,
  };
}

function readText(key: string, src: PemSource): { text?: string; issue?: ConfigIssue } {
  if (src.kind === 'inline') return { text: src.value };
  try {
    return { text: readFileSync(src.value, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the file does not exist' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory, not a file' : (err as Error).message;
    return { issue: sourceIssue(key, src, `cannot read the file: ${why}`) };
  }
}

/** The PEM text of a source (file contents or inline text). @throws ConfigError naming the source. */
export function readPemSource(src: PemSource, key = 'tls'): string {
  const r = readText(key, src);
  if (r.issue) throw new ConfigError([r.issue]);
  return r.text!;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A certificate (first PEM block is the leaf) and its private key: readable, parseable, matching. */
function checkPair(certKey: string, keyKey: string, certSrc: PemSource, keySrc: PemSource, issues: ConfigIssue[]): void {
  let leaf: X509Certificate | undefined;
  const cert = readText(certKey, certSrc);
  if (cert.issue) issues.push(cert.issue);
  else {
    const blocks = cert.text!.match(CERT_BLOCK);
    if (!blocks) issues.push(sourceIssue(certKey, certSrc, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in it'));
    else {
      try {
        leaf = new X509Certificate(blocks[0]);
      } catch (err) {
        issues.push(sourceIssue(certKey, certSrc, `the certificate cannot be parsed (${(err as Error).message})`));
      }
    }
  }
  let key: KeyObject | undefined;
  const keyText = readText(keyKey, keySrc);
  if (keyText.issue) issues.push(keyText.issue);
  else {
    try {
      key = createPrivateKey(keyText.text!);
    } catch (err) {
      issues.push(sourceIssue(keyKey, keySrc, `not a readable unencrypted PEM private key (${(err as Error).message})`));
    }
  }
  if (leaf && key && !leaf.checkPrivateKey(key)) {
    issues.push(sourceIssue(keyKey, keySrc, `the private key does not match the certificate ${certSrc.kind === 'file' ? certSrc.value : '(inline)'}`));
  }
}

/**
 * A CA bundle: readable, every PEM certificate parseable; `requireCa`: at least one with cA=TRUE
 * (to verify client certificates). An upstream's trust may be a pinned self-signed server certificate.
 */
function checkCa(caKey: string, src: PemSource, requireCa: boolean, issues: ConfigIssue[]): void {
  const ca = readText(caKey, src);
  if (ca.issue) return void issues.push(ca.issue);
  const blocks = ca.text!.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) return void issues.push(sourceIssue(caKey, src, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in it'));
  let anyCa = false;
  for (const b of blocks) {
    try {
      if (new X509Certificate(b).ca) anyCa = true;
    } catch (err) {
      issues.push(sourceIssue(caKey, src, `a certificate cannot be parsed (${(err as Error).message})`));
    }
  }
  if (requireCa && !anyCa) issues.push(sourceIssue(caKey, src, 'none of its certificates is a CA (basicConstraints cA=TRUE), so it cannot verify client certificates'));
}

function checkEntry(prefix: string, e: TlsEntry, issues: ConfigIssue[]): void {
  checkPair(`${prefix}.certificate`, `${prefix}.privateKey`, e.certificate, e.privateKey, issues);
  if (e.certificateAuthority) checkCa(`${prefix}.certificateAuthority`, e.certificateAuthority, true, issues);
}

/**
 * Checks the certificate material the configuration names (tls, operationsApi.tls, and every
 * applications[].upstreamTls): readable, parseable, keys matching their certificates, CAs that are CAs. Run after first-start generation. Returns every issue.
 */
export function validateTlsMaterial(config: HarperConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const check = (prefix: string, entries: TlsEntry[]) =>
    entries.forEach((e, i) => {
      const p = entries.length > 1 ? `${prefix}[${i}]` : prefix;
      const id = JSON.stringify([e.certificate.value, e.privateKey.value, e.certificateAuthority?.value]);
      if (seen.has(id)) return;
      seen.add(id);
      checkEntry(p, e, issues);
    });
  // Checked even when HTTPS is off: the server loads them for run-time changes and the local CA.
  check('tls', config.tls);
  if (!config.operationsApi.tlsInherited) check('operationsApi.tls', config.operationsApi.tls);
  // An upstream's client certificate and CA (SPEC.md section 6): a bad one stops the start, not every proxied request (502).
  for (const app of config.applications) {
    const t = app.kind === 'upstream' ? app.upstreamTls : undefined;
    if (!t) continue;
    const p = `${app.where.key}.upstreamTls`;
    if (t.certificate && t.privateKey) checkPair(`${p}.certificate`, `${p}.privateKey`, t.certificate, t.privateKey, issues);
    if (t.certificateAuthority) checkCa(`${p}.certificateAuthority`, t.certificateAuthority, false, issues);
  }
  return issues;
}
