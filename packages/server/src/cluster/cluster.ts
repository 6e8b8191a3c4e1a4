/**
 * Several nodes (SPEC.md section 10): what the server composes differently when `cluster` is
 * set. The engine itself is @harper-tls/store's; the server only learns whether it is reachable.
 */
import { createPrivateKey, hkdfSync } from 'node:crypto';
import { join } from 'node:path';
import { Gauge } from 'prom-client';
import type { HarperConfig } from '@harper-tls/config';
import { openClusterStores, isStoreUnavailable, type ClusterStores } from '@harper-tls/store';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import type { OperationHandler } from '../operations/types.js';
import { ServerError } from '../errors.js';

export const CLUSTER_UNAVAILABLE = { error: 'Cluster store unavailable' } as const;

/** Connects this node to the engine; a missing schema or an unreachable engine stops the start with a clear error. */
export async function openCluster(config: HarperConfig, logger: Logger, opts: { claimNodeName?: boolean } = {}): Promise<ClusterStores> {
  const cluster = config.cluster!;
  try {
    // The node's name is held by the process that serves alone; with workers, by their primary.
    // The last-known state lets a node that synced once start while the engine is unreachable (degraded).
    const stores = await openClusterStores({ cluster, logger, claimNodeName: opts.claimNodeName ?? true, lastKnownPath: join(config.storage.path, 'cluster-state.json') });
    const h = stores.health();
    if (h.status === 'ok') logger.info({ node: cluster.nodeName, engine: `${cluster.engine.host}:${cluster.engine.port}/${cluster.engine.database}`, version: h.version }, 'cluster store connected (PostgreSQL, mTLS)');
    return stores;
  } catch (err) {
    throw new ServerError('ERR_SERVER_DATABASE', `cluster: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The operation-token secret of a cluster: every node must verify the tokens of every other, and
 * the secret must not sit in the engine. It is derived from the local CA's private key, which
 * every node holds as a file already (HKDF-SHA256; a CA renewal changes it, like a new secret).
 */
export function clusterTokenSecret(caPrivateKeyPem: string): Uint8Array {
  const der = createPrivateKey(caPrivateKeyPem).export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(hkdfSync('sha256', der, 'harper-tls cluster', 'operation and refresh tokens', 32));
}

/** Changes refused because the engine is unreachable answer 503, never a local-only change. */
export function unavailableAs503(handler: OperationHandler): OperationHandler {
  return async (body, caller) => {
    try {
      return await handler(body, caller);
    } catch (err) {
      if (isStoreUnavailable(err) || isStoreUnavailable((err as { cause?: unknown }).cause)) return { status: 503, body: CLUSTER_UNAVAILABLE };
      throw err;
    }
  };
}

/** `harper_tls_cluster_up` (1 reachable, 0 degraded) and the change version this node applied. */
export function clusterMetrics(metrics: ServerMetrics, stores: ClusterStores): void {
  const registers = [metrics.registry];
  new Gauge({
    name: 'harper_tls_cluster_up',
    help: 'Whether the cluster store (PostgreSQL) answers: 1 ok, 0 degraded (serving the last-known state)',
    registers,
    collect() {
      this.set(stores.health().status === 'ok' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'harper_tls_cluster_full_resyncs',
    help: 'Times this node reloaded the whole cluster state because the change log was pruned past its last version (it was away longer than cluster.changeRetention)',
    registers,
    collect() {
      this.set(stores.stats.fullResyncs);
    },
  });
  new Gauge({
    name: 'harper_tls_cluster_version',
    help: 'The last change version of the cluster store this node applied',
    registers,
    collect() {
      this.set(stores.health().version);
    },
  });
}

/** Calls `fn` once per burst of changes (a change touches several keys). */
export function coalesce(fn: () => void | Promise<void>, onError: (err: unknown) => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      Promise.resolve()
        .then(fn)
        .catch(onError);
    });
  };
}
