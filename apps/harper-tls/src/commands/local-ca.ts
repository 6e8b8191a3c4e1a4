import { existsSync } from 'node:fs';
import { createLocalCa } from '@harper-tls/cert-gen';
import { keyValueStore, loadAutoCa, localCaUrls, openServerDatabase } from '@harper-tls/server';
import { openClusterStores } from '@harper-tls/store';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { loadExistingConfig } from './common.js';

export type LocalCa = ReturnType<typeof createLocalCa>;

/**
 * Opens the local CA the running server uses: the auto-generated CA in <root>/keys/ and its
 * records in the embedded store (shared with a running server; lmdb is multi-process safe).
 */
export async function openLocalCa(ctx: CommandContext, flags: Record<string, unknown>): Promise<{ ca: LocalCa; close(): Promise<void> }> {
  const config = await loadExistingConfig(ctx, flags);
  const auto = loadAutoCa(config.rootPath);
  if (!auto) {
    const keys = `${config.rootPath}/keys/`;
    if (existsSync(`${keys}ca.pem`) && existsSync(`${keys}ca-privateKey.pem`)) {
      throw new CliError(`no local CA in ${keys}: ca.pem is not the certificate of ca-privateKey.pem (ca.pem was replaced by another CA, which harper-tls keeps and trusts but cannot sign with); certificates of your own CA are issued and revoked with its own tools`);
    }
    throw new CliError(`no local CA in ${keys} (ca.pem and ca-privateKey.pem); start the server once (harper-tls start --root ${config.rootPath}) to create it`);
  }
  if (config.cluster) {
    // Several nodes: the shared records in the cluster engine (SPEC.md section 10).
    const stores = await openClusterStores({ cluster: config.cluster });
    return { ca: createLocalCa({ ca: auto, store: stores.localCa, ...localCaUrls(config) }), close: () => stores.close() };
  }
  const db = openServerDatabase(config.rootPath, config.storage.path);
  const ca = createLocalCa({ ca: auto, store: keyValueStore(db.localCa), ...localCaUrls(config) });
  return { ca, close: () => db.close() };
}
