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
 * The settings of one engine connection: TLS always, the server verified against
 * cluster.tls.certificateAuthority with its name checked (verify-full), the node's client
 * certificate, no password. A fresh `ssl` object per client: pg makes `ssl.key` non-enumerable
 * on the object it is given, so one object shared by two clients loses the key for the second.
 */
export function clientConfig(cluster: ClusterConfig, tls: EngineTlsMaterial, purpose: string): pg.ClientConfig {
  const { host, port, user, database } = cluster.engine;
  return {
    host,
    port,
    user,
    database,
    password: undefined,
    application_name: `harper-tls ${cluster.nodeName} ${purpose}`.slice(0, 63),
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
