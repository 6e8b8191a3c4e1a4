import { isAbsolute, join, resolve, dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { PemSource, TlsEntry } from './types.js';
import type { ResolveContext } from './context.js';
import type { PathPart } from './sources.js';
import { expandHome } from './root.js';
import { isPlainObject } from './values.js';

type PemField = 'certificate' | 'privateKey' | 'certificateAuthority';
const DEFAULT_FILES: Record<PemField, string> = { certificate: 'certificate.pem', privateKey: 'privateKey.pem', certificateAuthority: 'ca.pem' };
const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export function defaultPemSource(ctx: ResolveContext, field: PemField): PemSource {
  return { kind: 'file', value: join(ctx.rootPath, 'keys', DEFAULT_FILES[field]), isDefault: true, origin: 'default' };
}

export function readPem(ctx: ResolveContext, path: PathPart[], field: PemField): PemSource | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') {
    ctx.issue(path, v, 'expected a file path or inline PEM text');
    return undefined;
  }
  const origin = ctx.originText(path);
  if (v.includes('-----BEGIN')) return { kind: 'inline', value: v, isDefault: false, origin };
  let p = expandHome(v.replaceAll('<ROOTPATH>', ctx.rootPath), ctx.homedir);
  if (!isAbsolute(p)) p = resolve(dirname(ctx.configPath), p);
  return { kind: 'file', value: p, isDefault: p === defaultPemSource(ctx, field).value, origin };
}

function readHosts(ctx: ResolveContext, path: PathPart[]): string[] | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((h) => typeof h !== 'string' || !HOST.test(h))) {
    ctx.issue(path, v, 'expected a host name or a list of them (e.g. "example.com" or ["a.example.com", "*.example.com"])');
    return undefined;
  }
  return list.map((h: string) => h.toLowerCase().replace(/\.$/, ''));
}

/** RFC 8446 section 4.6.1: a ticket lifetime is at most 7 days. */
const MAX_SESSION_TIMEOUT = 604_800;

function readSessionTimeout(ctx: ResolveContext, path: PathPart[], index: number): number | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  if (index > 0) {
    ctx.issue(path, v, 'sessionTimeout holds for the whole listener; set it on the first entry of the list only');
    return undefined;
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_SESSION_TIMEOUT) return v;
  ctx.issue(path, v, `expected a whole number of seconds from 1 to ${MAX_SESSION_TIMEOUT} (7 days, the TLS 1.3 maximum ticket lifetime)`);
  return undefined;
}

/** An OpenSSL cipher list, checked here with OpenSSL itself: a list it refuses would only fail when the server builds its contexts. */
function readCiphers(ctx: ResolveContext, path: PathPart[]): string | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') {
    ctx.issue(path, v, 'expected an OpenSSL cipher list string');
    return undefined;
  }
  try {
    createSecureContext({ ciphers: v });
  } catch (err) {
    ctx.issue(path, v, `OpenSSL accepts none of these ciphers (${(err as Error).message.replace(/^error:[0-9A-F]+:[^:]*::/, '')}); expected an OpenSSL cipher list such as "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256" or null for the default`);
    return undefined;
  }
  return v;
}

function readEntry(ctx: ResolveContext, path: PathPart[], base: TlsEntry | undefined, index: number): TlsEntry | undefined {
  const v = ctx.get(path);
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected an object {certificate, privateKey, certificateAuthority, host, ciphers, sessionTimeout}');
    return undefined;
  }
  const ciphers = readCiphers(ctx, [...path, 'ciphers']);
  // operationsApi.tls inherits it from tls like the other fields of its first entry.
  const timeout = readSessionTimeout(ctx, [...path, 'sessionTimeout'], index) ?? (index === 0 ? base?.sessionTimeout : undefined);
  const certificate = readPem(ctx, [...path, 'certificate'], 'certificate');
  const privateKey = readPem(ctx, [...path, 'privateKey'], 'privateKey');
  const certificateAuthority = readPem(ctx, [...path, 'certificateAuthority'], 'certificateAuthority');
  const entry: TlsEntry = {
    certificate: certificate ?? base?.certificate ?? defaultPemSource(ctx, 'certificate'),
    privateKey: privateKey ?? base?.privateKey ?? defaultPemSource(ctx, 'privateKey'),
    certificateAuthority: certificateAuthority ?? base?.certificateAuthority ?? defaultPemSource(ctx, 'certificateAuthority'),
    host: readHosts(ctx, [...path, 'host']),
    ciphers,
    ...(timeout !== undefined ? { sessionTimeout: timeout } : {}),
  };
  // In a list, every entry after the first is its own certificate: it must name both files.
  if (index > 0 && (!certificate || !privateKey)) {
    ctx.issue(path, undefined, 'every entry after the first needs its own certificate and privateKey (only certificateAuthority is inherited from the first)');
  }
  if (!!certificate !== !!privateKey && index === 0 && !base) {
    ctx.issue(path, undefined, `${certificate ? 'certificate' : 'privateKey'} is set but ${certificate ? 'privateKey' : 'certificate'} is not; give both (or neither, to use the generated ones)`);
  }
  return entry;
}

/**
 * `tls` / `operationsApi.tls`: an object or a non-empty list (several certificates chosen by SNI).
 * Unset fields of the first entry come from `base` (operationsApi.tls inherits tls) or the
 * generated files; later entries inherit only the certificateAuthority of the first.
 */
export function readTls(ctx: ResolveContext, path: PathPart[], base?: TlsEntry): TlsEntry[] {
  const v = ctx.get(path);
  const fallback = (): TlsEntry => ({
    certificate: base?.certificate ?? defaultPemSource(ctx, 'certificate'),
    privateKey: base?.privateKey ?? defaultPemSource(ctx, 'privateKey'),
    certificateAuthority: base?.certificateAuthority ?? defaultPemSource(ctx, 'certificateAuthority'),
  });
  if (v === undefined || v === null) return [fallback()];
  if (Array.isArray(v)) {
    if (v.length === 0) {
      ctx.issue(path, v, 'an empty list has no certificate; give at least one entry or remove the key');
      return [fallback()];
    }
    const first = readEntry(ctx, [...path, 0], base, 0) ?? fallback();
    const rest = v.slice(1).map((_, i) => readEntry(ctx, [...path, i + 1], { ...first, certificate: undefined!, privateKey: undefined! }, i + 1));
    return [first, ...rest.filter((e): e is TlsEntry => !!e && !!e.certificate && !!e.privateKey)];
  }
  return [readEntry(ctx, path, base, 0) ?? fallback()];
}
