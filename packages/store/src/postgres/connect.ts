import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { ClusterConfig } from '@harper-tls/config';
import type pg from 'pg';
import { StoreError } from '../errors.js';

export interface EngineTlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** Reads cluster.tls once: a missing or unreadable file is a configuration error naming its key. */
export function readEngineTls(cluster: Pick<ClusterConfig, 'tls'>): EngineTlsMaterial {
  const read = (key: keyof ClusterConfig['tls'], path: string) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new StoreError('ERR_STORE_CONFIG', `cluster.tls.${key}: cannot read ${path} (${code}); the engine connection needs it (harper-tls cluster issue-node --name NAME)`);
    }
    if (!text.includes('-----BEGIN')) throw new StoreError('ERR_STORE_CONFIG', `cluster.tls.${key}: ${path} holds no PEM block`);
    return text;
  };
  return { ca: read('certificateAuthority', cluster.tls.certificateAuthority), cert: read('certificate', cluster.tls.certificate), key: read('privateKey', cluster.tls.privateKey) };
}

/**
 * The engine's own keepalive probes on every session (seconds): a node whose host dies without
 * closing its connections (power, network) is seen gone after 10 + 5 * 3 = 25 s, and its
 * session ends with the row and advisory locks it held (a write in progress, its node name),
 * instead of after the kernel's default of about 2 hours.
 */
export const ENGINE_KEEPALIVE = { idle: 10, interval: 5, count: 3 } as const;

/** Server-side limits of one session, in ms (0: none, whatever the server's own setting). */
export interface SessionLimits {
  /** idle_in_transaction_session_timeout: a session silent inside a transaction this long is ended (its locks released). */
  idleInTransactionMs?: number;
  /** lock_timeout: a statement waiting this long for a lock fails. */
  lockTimeoutMs?: number;
}

/** The `options` startup parameter: keepalives always, the limits given. */
export function sessionOptions(limits: SessionLimits = {}): string {
  const set: Array<[string, number]> = [
    ['tcp_keepalives_idle', ENGINE_KEEPALIVE.idle],
    ['tcp_keepalives_interval', ENGINE_KEEPALIVE.interval],
    ['tcp_keepalives_count', ENGINE_KEEPALIVE.count],
  ];
  if (limits.idleInTransactionMs !== undefined) set.push(['idle_in_transaction_session_timeout', Math.max(0, Math.round(limits.idleInTransactionMs))]);
  if (limits.lockTimeoutMs !== undefined) set.push(['lock_timeout', Math.max(0, Math.round(limits.lockTimeoutMs))]);
  return set.map(([k, v]) => `-c ${k}=${v}`).join(' ');
}

/**
 * The settings of one engine connection: TLS always, the server verified against
 * cluster.tls.certificateAuthority with its name checked (verify-full), the node's client
 * certificate, no password. A fresh `ssl` object per client: pg makes `ssl.key` non-enumerable
 * on the object it is given, so one object shared by two clients loses the key for the second.
 * The session gets the engine-side keepalives and `limits` (ENGINE_KEEPALIVE, SessionLimits).
 */
export function clientConfig(cluster: ClusterConfig, tls: EngineTlsMaterial, purpose: string, limits: SessionLimits = {}): pg.ClientConfig {
  const { host, port, user, database } = cluster.engine;
  return {
    host,
    port,
    user,
    database,
    password: undefined,
    application_name: `harper-tls ${cluster.nodeName} ${purpose}`.slice(0, 63),
    options: sessionOptions(limits),
    keepAlive: true,
    ssl: {
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: true,
      // verify-full: the engine's certificate must name the host of cluster.url.
      servername: isIP(host) ? undefined : host,
      checkServerIdentity: (_name, cert) => checkHost(host, cert),
    },
  };
}

function checkHost(host: string, cert: PeerCertificate): Error | undefined {
  // Node's own check, with the configured host (also for an IP, where `servername` is not sent).
  return checkServerIdentity(host, cert);
}
