import { join } from 'node:path';
import type { ResolveContext } from './context.js';
import type { KeyTree } from './keys.js';
import { isPlainObject, readDirectory, readMs, readString } from './values.js';

/**
 * `cluster` (SPEC.md section 10): several nodes sharing users, certificates, the local CA and the
 * revocation caches through PostgreSQL, always over TLS with a client certificate and a verified
 * server. Absent: one node, state in the embedded lmdb store, no engine client loaded.
 */
export interface ClusterConfig {
  /** This node's name: the CN of its engine client certificate; unique in the cluster. */
  nodeName: string;
  /** `postgres://USER@HOST:PORT/DB` (no password). */
  url: string;
  /** Parsed from `url`. */
  engine: { user: string; host: string; port: number; database: string };
  tls: { certificate: string; privateKey: string; certificateAuthority: string };
  /** Safety poll besides change notifications, ms. */
  pollInterval: number;
  /** How long change-log rows are kept, ms (a node away longer reloads the whole state). */
  changeRetention: number;
}

export const CLUSTER_KEYS: KeyTree = {
  nodeName: null,
  url: null,
  tls: { certificate: null, privateKey: null, certificateAuthority: null },
  pollInterval: null,
  changeRetention: null,
};

const DAY_MS = 86_400_000;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Query parameters a `cluster.url` may carry; anything that would weaken TLS is refused. */
const ALLOWED_PARAMS = new Set(['sslmode', 'application_name']);

/** Reads `cluster`; undefined when absent (one node). Every mistake is an issue naming its key. */
export function readCluster(ctx: ResolveContext, defaultNodeName: string): ClusterConfig | undefined {
  const v = ctx.get(['cluster']);
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) {
    ctx.issue(['cluster'], v, 'expected an object {nodeName, url, tls, pollInterval}');
    return undefined;
  }
  const nodeName = readString(ctx, ['cluster', 'nodeName'], defaultNodeName);
  if (!NODE_NAME.test(nodeName)) ctx.issue(['cluster', 'nodeName'], nodeName, 'expected 1-63 letters, digits, ".", "_" or "-" (it becomes the CN of the node certificate and a file name)');
  const url = ctx.get(['cluster', 'url']);
  const engine = readEngineUrl(ctx, url);
  if (!engine) return undefined;
  const keys = join(ctx.rootPath, 'keys');
  const tlsRaw = ctx.get(['cluster', 'tls']);
  if (tlsRaw !== undefined && tlsRaw !== null && !isPlainObject(tlsRaw)) ctx.issue(['cluster', 'tls'], tlsRaw, 'expected an object {certificate, privateKey, certificateAuthority}');
  return {
    nodeName,
    url: String(url),
    engine,
    tls: {
      certificate: readDirectory(ctx, ['cluster', 'tls', 'certificate'], join(keys, `cluster-${nodeName}.pem`)),
      privateKey: readDirectory(ctx, ['cluster', 'tls', 'privateKey'], join(keys, `cluster-${nodeName}-key.pem`)),
      certificateAuthority: readDirectory(ctx, ['cluster', 'tls', 'certificateAuthority'], join(keys, 'ca.pem')),
    },
    pollInterval: readMs(ctx, ['cluster', 'pollInterval'], 2000, 100),
    changeRetention: readMs(ctx, ['cluster', 'changeRetention'], DAY_MS, 1000, 'span'),
  };
}

function readEngineUrl(ctx: ResolveContext, v: unknown): ClusterConfig['engine'] | undefined {
  const path = ['cluster', 'url'];
  if (v === undefined || v === null) {
    ctx.issue(path, v, 'is required when "cluster" is set: postgres://USER@HOST:PORT/DB');
    return undefined;
  }
  let u: URL;
  try {
    if (typeof v !== 'string') throw new Error('not a string');
    u = new URL(v);
  } catch {
    ctx.issue(path, v, 'expected a URL postgres://USER@HOST:PORT/DB');
    return undefined;
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    ctx.issue(path, v, 'expected a postgres:// URL (PostgreSQL 14 or newer)');
    return undefined;
  }
  if (u.password) {
    ctx.issue(path, '(hidden)', 'must not contain a password: the node authenticates to the engine with its certificate (cluster.tls)');
    return undefined;
  }
  let user: string;
  let database: string;
  try {
    user = decodeURIComponent(u.username);
    database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  } catch {
    ctx.issue(path, v, 'the user or database holds a "%" that is not followed by two hex digits; write a "%" as %25');
    return undefined;
  }
  if (!user || !u.hostname || !database) {
    ctx.issue(path, v, 'expected postgres://USER@HOST:PORT/DB with a user, a host and a database');
    return undefined;
  }
  for (const [k, val] of u.searchParams) {
    if (!ALLOWED_PARAMS.has(k)) {
      ctx.issue(path, v, `the parameter "${k}" is not accepted: TLS settings come from cluster.tls and the connection is always verify-full`);
      return undefined;
    }
    if (k === 'sslmode' && val !== 'verify-full') {
      ctx.issue(path, v, `sslmode=${val} would not verify the engine: only verify-full is accepted (the default)`);
      return undefined;
    }
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { user, host, port: u.port ? Number(u.port) : 5432, database };
}
