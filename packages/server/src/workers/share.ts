import type { UserStore } from '@harper-tls/mtls-auth';
import type { SharedRevocation, SharedRevocationEvent } from '@harper-tls/revocation';
import type { Logger } from '../logger.js';
import type { CertificateRegistry } from '../certificates/registry.js';
import type { TrustGeneration } from '../trust-generation.js';
import type { OperationHandler } from '../operations/types.js';
import type { WorkerPeers } from './peers.js';

/** Topics a worker applies when another one changed something (SPEC.md section 8). */
export const TOPICS = {
  users: 'users',
  certificates: 'certificates',
  configured: 'configured-files',
  trust: 'trust',
  revocation: 'revocation',
  intermediates: 'intermediates',
} as const;

/** What the operations change on every worker, by operation name. */
const CHANGES: Record<string, string> = {
  add_user: TOPICS.users,
  alter_user: TOPICS.users,
  drop_user: TOPICS.users,
  add_certificate: TOPICS.certificates,
  remove_certificate: TOPICS.certificates,
  revoke_certificate: TOPICS.trust,
};

/**
 * The user store of one worker, whose `generation()` also moves when another worker changed a
 * user: the authenticator then drops its cached lookups at once (instead of after the TTL).
 */
export function sharedUsers(users: UserStore, peers: WorkerPeers): UserStore {
  let remote = 0;
  peers.on(TOPICS.users, () => void remote++);
  const own = users.generation?.bind(users);
  return new Proxy(users, {
    get(target, prop, receiver) {
      if (prop === 'generation' && own) return () => own() + remote;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * Wraps the operation handlers: a successful change (users, certificates, a local-CA
 * revocation) is applied on every other worker before the operation answers. When that fails
 * the answer is 500 and says so (the change is stored, and the others pick it up when they next read the store).
 */
export function replicatedOperations(handlers: OperationHandler[], peers: WorkerPeers, logger: Logger): OperationHandler[] {
  return handlers.map((handler) => async (body, caller) => {
    const result = await handler(body, caller);
    const topic = typeof body.operation === 'string' ? CHANGES[body.operation] : undefined;
    if (!result || !topic || result.status !== 200) return result;
    try {
      await peers.broadcast(topic);
    } catch (err) {
      logger.error({ operation: body.operation, err: (err as Error).message }, 'a change was stored but not applied on every worker');
      return { status: 500, body: { error: `${String(body.operation)} was stored but not applied on every worker: ${(err as Error).message}` } };
    }
    return result;
  });
}

/** What the other workers' changes do here: reload certificates, re-check open connections, bump user caches. */
export function applyPeerChanges(peers: WorkerPeers, parts: { registry: CertificateRegistry; trust: TrustGeneration }): void {
  peers.on(TOPICS.certificates, () => parts.registry.reloadStored());
  peers.on(TOPICS.configured, () => {
    const r = parts.registry.reloadConfigured();
    if (!r.ok) throw new Error(r.error);
  });
  peers.on(TOPICS.trust, () => parts.trust.bump());
}

/**
 * The revocation checkers' link to the other workers: single flight by the primary's locks,
 * refreshes published to the other workers and to this worker's other checkers.
 */
export function sharedRevocation(peers: WorkerPeers): () => SharedRevocation {
  const local: Array<(e: SharedRevocationEvent) => Promise<void> | void> = [];
  peers.on(TOPICS.revocation, async (payload) => {
    for (const fn of local) await fn(payload as SharedRevocationEvent);
  });
  return () => {
    let mine: ((e: SharedRevocationEvent) => Promise<void> | void) | undefined;
    return {
      exclusive: (key, fn) => peers.exclusive(key, fn),
      async publish(event) {
        for (const fn of local) if (fn !== mine) await fn(event);
        await peers.broadcast(TOPICS.revocation, event);
      },
      subscribe(fn) {
        mine = fn;
        local.push(fn);
      },
    };
  };
}

/**
 * Intermediate CA certificates the authenticators verified, handed to every other worker: a TLS
 * session resumed there carries only the leaf (shared ticket keys), and without the intermediate
 * its chain could not be built. Public certificates only (DER as base64); a receiving
 * authenticator uses them as path candidates, every link still checked up to its own anchors.
 * `publish` (an authenticator's `shareIntermediates`) resolves once every other worker has them, or
 * after `waitMs` at the most: the request that carried them waits no longer for a worker that is
 * still starting or stuck (the broadcast goes on; a session resumed there meanwhile fails closed).
 * `subscribe` registers one of this worker's authenticators.
 */
export function sharedIntermediates(peers: WorkerPeers, waitMs = 1000): { publish(ders: Uint8Array[]): Promise<void>; subscribe(auth: { addIntermediates(ders: readonly Uint8Array[]): void }): void } {
  const local: Array<{ addIntermediates(ders: readonly Uint8Array[]): void }> = [];
  peers.on(TOPICS.intermediates, (payload) => {
    if (!Array.isArray(payload)) return;
    const ders = payload.filter((b): b is string => typeof b === 'string').map((b) => new Uint8Array(Buffer.from(b, 'base64')));
    for (const auth of local) auth.addIntermediates(ders);
  });
  return {
    async publish(ders) {
      // This worker's other authenticators (another listener) learn them too.
      for (const auth of local) auth.addIntermediates(ders);
      const sent = peers.broadcast(TOPICS.intermediates, ders.map((d) => Buffer.from(d).toString('base64')));
      let timer: NodeJS.Timeout | undefined;
      const later = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
      try {
        await Promise.race([sent, later]);
      } finally {
        clearTimeout(timer);
        sent.catch(() => {}); // a late failure changes nothing: the caller has moved on
      }
    },
    subscribe: (auth) => void local.push(auth),
  };
}
