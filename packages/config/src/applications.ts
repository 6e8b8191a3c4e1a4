import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { ResolveContext } from './context.js';
import type { ConfigIssue } from './issues.js';
import type { KeyTree } from './keys.js';
import type { PathPart } from './sources.js';
import { formatPath } from './sources.js';
import type { PemSource } from './types.js';
import { readPem } from './tls.js';
import { walk } from './unknown-keys.js';
import { expandHome } from './root.js';
import { isPlainObject, readBoolean, readEnum, readMs } from './values.js';
import { normalizePathEscapes } from './path-escapes.js';

/**
 * `applications` (SPEC.md section 6): the user's own code behind harper-tls, either an ES module
 * loaded into the server or an upstream URL it proxies to. A YAML list is harper-tls's; Harper's
 * `applications` object (moduleLoader, lockdown, ...) stays an ignored Harper key.
 */

export type ApplicationAuth = 'required' | 'optional' | 'none';

/** harper-tls's own client certificate toward an https upstream, and the CA that verifies the upstream. */
export interface UpstreamTlsConfig {
  certificate?: PemSource;
  privateKey?: PemSource;
  /** Absent: the system CAs plus `tls.certificateAuthority`. */
  certificateAuthority?: PemSource;
  /** SNI and the name checked in the upstream's certificate; default the URL's host. */
  servername?: string;
}

interface ApplicationBase {
  /** Normalized prefix: starts with `/`, no trailing `/` except for `/` itself. */
  path: string;
  /** Default `required`. */
  auth: ApplicationAuth;
  /** Role names allowed; undefined: any role. */
  roles?: string[];
  /** Default false. */
  stripPrefix: boolean;
  /** Where the entry is in the configuration, for errors found after loading (module exports). */
  where: Omit<ConfigIssue, 'message' | 'value'>;
}

export interface ModuleApplication extends ApplicationBase {
  kind: 'module';
  /** As configured. */
  module: string;
  /** Absolute file path when `module` is a path; undefined for a package name (resolved from ROOTPATH at load). */
  modulePath?: string;
  /** Where `module` is configured. */
  moduleWhere: Omit<ConfigIssue, 'message' | 'value'>;
}

export interface UpstreamApplication extends ApplicationBase {
  kind: 'upstream';
  /** The upstream's origin, e.g. `https://127.0.0.1:8443`. */
  origin: string;
  /** The URL's base path without a trailing `/` (`''` for none). */
  basePath: string;
  /** ms without response headers before a 504. Default 60000. */
  timeout: number;
  upstreamTls?: UpstreamTlsConfig;
  /** false: no identity header at all; else whether the PEM goes into X-Forwarded-Client-Cert. Default `{certificate: false}`. */
  identityHeaders: false | { certificate: boolean };
}

export type ApplicationConfig = ModuleApplication | UpstreamApplication;

export const APPLICATION_KEYS: KeyTree = {
  path: null,
  module: null,
  upstream: null,
  auth: null,
  roles: null,
  stripPrefix: null,
  timeout: null,
  upstreamTls: { certificate: null, privateKey: null, certificateAuthority: null, servername: null },
  identityHeaders: null,
};

/** The server's own paths: an application there would never be reached. */
const SERVER_PATHS = ['/health', '/whoami', '/metrics', '/ca'];
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
const ROLE = /^[^\s,]+$/;
const SERVERNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function where(ctx: ResolveContext, path: PathPart[]): Omit<ConfigIssue, 'message' | 'value'> {
  return { key: formatPath(path), ...ctx.origin(path) };
}

function readPrefix(ctx: ResolveContext, path: PathPart[]): string | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) {
    ctx.issue(path.slice(0, -1), undefined, 'every application needs a path (a URL prefix such as "/api", or "/")');
    return undefined;
  }
  if (typeof v !== 'string' || !PATH.test(v) || v.includes('//') || v.split('/').some((s) => s === '.' || s === '..') || /%(?![0-9A-Fa-f]{2})/.test(v)) {
    ctx.issue(path, v, 'expected a URL path starting with "/" (e.g. "/api"), without query, "//", "." or ".." segments');
    return undefined;
  }
  if (v.includes(';')) {
    ctx.issue(path, v, 'expected a path without ";" parameters: requests are matched on their path without them (SPEC.md section 6)');
    return undefined;
  }
  const canonical = canonicalEntryPath(v);
  if (canonical === undefined || canonical.split('/').some((s) => s === '.' || s === '..')) {
    ctx.issue(path, v, 'expected a path without an encoded "/", "\\" or NUL (%2F, %5C, %00) and without "." or ".." segments, encoded or not');
    return undefined;
  }
  const p = canonical.length > 1 ? canonical.replace(/\/+$/, '') : canonical;
  if (SERVER_PATHS.some((s) => p === s || p.startsWith(`${s}/`))) {
    ctx.issue(path, v, `${SERVER_PATHS.join(', ')} are the server's own paths; an application there would never be reached`);
    return undefined;
  }
  return p;
}

/**
 * An entry's path in the form request paths are matched in (normalizePathEscapes), so `/%7Ebob`
 * is matched as `/~bob`. Undefined for an encoded `/`, `\` or NUL, which no request for an
 * application may hold.
 */
function canonicalEntryPath(v: string): string | undefined {
  const r = normalizePathEscapes(v);
  return r.encodedSeparator || r.refused !== undefined ? undefined : r.path;
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('~') || spec.includes('<ROOTPATH>') || (/\.(m?js|cjs)$/.test(spec) && !spec.startsWith('@'));
}

function readModule(ctx: ResolveContext, path: PathPart[], v: unknown): { module: string; modulePath?: string } | undefined {
  if (typeof v !== 'string' || v.trim() === '' || v.includes('\0')) {
    ctx.issue(path, v, 'expected an ES module: a file path (absolute, or relative to ROOTPATH) or an installed package name');
    return undefined;
  }
  if (!looksLikePath(v)) return { module: v };
  const expanded = expandHome(v.replaceAll('<ROOTPATH>', ctx.rootPath), ctx.homedir);
  const file = isAbsolute(expanded) ? resolve(expanded) : join(ctx.rootPath, expanded);
  if (!existsSync(file) || !statSync(file).isFile()) {
    ctx.issue(path, v, `the module file ${file} does not exist (a relative path is taken from ROOTPATH ${ctx.rootPath})`);
    return undefined;
  }
  return { module: v, modulePath: file };
}

function readUpstream(ctx: ResolveContext, path: PathPart[], v: unknown): { origin: string; basePath: string; https: boolean } | undefined {
  let url: URL | undefined;
  try {
    if (typeof v === 'string') url = new URL(v);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    ctx.issue(path, v, 'expected an http:// or https:// URL, e.g. "http://127.0.0.1:3000" or "https://app.internal:8443/base"');
    return undefined;
  }
  if (url.username || url.password || url.search || url.hash) {
    ctx.issue(path, v, 'an upstream URL carries no credentials, query or fragment (the request\'s own query string is passed on)');
    return undefined;
  }
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, ''), https: url.protocol === 'https:' };
}

function readRoles(ctx: ResolveContext, path: PathPart[]): string[] | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((r) => typeof r !== 'string' || !ROLE.test(r))) {
    ctx.issue(path, v, 'expected a role name or a non-empty list of them, e.g. ["super_user", "reader"]');
    return undefined;
  }
  return [...new Set(list as string[])];
}

function readUpstreamTls(ctx: ResolveContext, path: PathPart[], https: boolean): UpstreamTlsConfig | undefined {
  const v = ctx.get(path);
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected an object {certificate, privateKey, certificateAuthority, servername}');
    return undefined;
  }
  if (!https) ctx.issue(path, undefined, 'upstreamTls needs an https:// upstream');
  const certificate = readPem(ctx, [...path, 'certificate'], 'certificate');
  const privateKey = readPem(ctx, [...path, 'privateKey'], 'privateKey');
  const certificateAuthority = readPem(ctx, [...path, 'certificateAuthority'], 'certificateAuthority');
  if (!!certificate !== !!privateKey) ctx.issue(path, undefined, `${certificate ? 'certificate' : 'privateKey'} is set but ${certificate ? 'privateKey' : 'certificate'} is not; a client certificate needs both`);
  const sn = v.servername;
  if (sn !== undefined && sn !== null && (typeof sn !== 'string' || !SERVERNAME.test(sn))) ctx.issue([...path, 'servername'], sn, 'expected a host name');
  return {
    ...(certificate ? { certificate } : {}),
    ...(privateKey ? { privateKey } : {}),
    ...(certificateAuthority ? { certificateAuthority } : {}),
    ...(typeof sn === 'string' && SERVERNAME.test(sn) ? { servername: sn } : {}),
  };
}

function readIdentityHeaders(ctx: ResolveContext, path: PathPart[]): false | { certificate: boolean } {
  const v = ctx.get(path);
  if (v === undefined || v === null || v === true) return { certificate: false };
  if (v === false) return false;
  if (isPlainObject(v) && Object.keys(v).every((k) => k === 'certificate') && (v.certificate === undefined || typeof v.certificate === 'boolean')) {
    return { certificate: v.certificate === true };
  }
  ctx.issue(path, v, 'expected true, false or {certificate: true} (add the client certificate PEM to X-Forwarded-Client-Cert)');
  return { certificate: false };
}

function readEntry(ctx: ResolveContext, path: PathPart[]): ApplicationConfig | undefined {
  const v = ctx.get(path);
  if (!isPlainObject(v)) {
    ctx.issue(path, v, 'expected an object {path, module | upstream, auth, roles, stripPrefix, ...}');
    return undefined;
  }
  walk(ctx, v, APPLICATION_KEYS, path);
  const prefix = readPrefix(ctx, [...path, 'path']);
  const auth = readEnum(ctx, [...path, 'auth'], ['required', 'optional', 'none'] as const, 'required');
  const roles = readRoles(ctx, [...path, 'roles']);
  if (roles && auth !== 'required') ctx.issue([...path, 'roles'], v.roles, `roles need auth: required (with auth: ${auth} a request without a user would pass the role check)`);
  const stripPrefix = readBoolean(ctx, [...path, 'stripPrefix'], false);
  const hasModule = v.module !== undefined && v.module !== null;
  const hasUpstream = v.upstream !== undefined && v.upstream !== null;
  if (hasModule === hasUpstream) {
    ctx.issue(path, undefined, hasModule ? 'has both module and upstream; give exactly one' : 'needs exactly one of module (an ES module) or upstream (an http:// or https:// URL)');
    return undefined;
  }
  const base = { auth, ...(roles ? { roles } : {}), stripPrefix, where: where(ctx, path) };
  if (hasModule) {
    for (const k of ['timeout', 'upstreamTls', 'identityHeaders'] as const) {
      if (v[k] !== undefined) ctx.issue([...path, k], v[k], `applies to upstream entries only; a module sees the identity as req.user / context.user`);
    }
    const mod = readModule(ctx, [...path, 'module'], v.module);
    if (!mod || prefix === undefined) return undefined;
    return { kind: 'module', path: prefix, ...base, ...mod, moduleWhere: where(ctx, [...path, 'module']) };
  }
  const up = readUpstream(ctx, [...path, 'upstream'], v.upstream);
  const timeout = readMs(ctx, [...path, 'timeout'], 60_000, 1);
  const upstreamTls = readUpstreamTls(ctx, [...path, 'upstreamTls'], up?.https ?? true);
  const identityHeaders = readIdentityHeaders(ctx, [...path, 'identityHeaders']);
  if (!up || prefix === undefined) return undefined;
  return { kind: 'upstream', path: prefix, ...base, origin: up.origin, basePath: up.basePath, timeout, ...(upstreamTls ? { upstreamTls } : {}), identityHeaders };
}

/** `applications` as a list; `[]` when absent, null, or Harper's object form. Two entries with the same path are an error. */
export function readApplications(ctx: ResolveContext): ApplicationConfig[] {
  const v = ctx.get(['applications']);
  if (v === undefined || v === null || isPlainObject(v)) return [];
  if (!Array.isArray(v)) {
    ctx.issue(['applications'], v, 'expected a list of {path, module | upstream, ...} entries (or Harper\'s applications object)');
    return [];
  }
  const out: ApplicationConfig[] = [];
  const seen = new Map<string, PathPart[]>();
  v.forEach((_, i) => {
    const entry = readEntry(ctx, ['applications', i]);
    if (!entry) return;
    const first = seen.get(entry.path);
    if (first) {
      ctx.issue(['applications', i, 'path'], ctx.get(['applications', i, 'path']), `the same path as ${formatPath(first)} (${ctx.originText(first)}); each path may have one application`);
      return;
    }
    seen.set(entry.path, ['applications', i, 'path']);
    out.push(entry);
  });
  return out;
}
