import { readPemSource, type HarperConfig } from '@harper-tls/config';
import type { Logger } from '../logger.js';
import { createApplications, type Applications } from './router.js';

/**
 * The configured applications, loaded before the server listens (a module that fails to load or
 * exports nothing usable is a ConfigError naming its entry); their close() is registered so it
 * runs after the server has stopped taking requests. Undefined when none is configured.
 */
export async function startApplications(config: HarperConfig, logger: Logger, closers: Array<() => Promise<void> | void>): Promise<Applications | undefined> {
  if (config.applications.length === 0) return undefined;
  // validateTlsMaterial has read these already at start; a CA that cannot be read adds no trust.
  const serverCas = config.tls.flatMap((e, i) => {
    try {
      return e.certificateAuthority ? [readPemSource(e.certificateAuthority, `tls[${i}].certificateAuthority`)] : [];
    } catch {
      return [];
    }
  });
  const apps = await createApplications(config.applications, { rootPath: config.rootPath, serverCas, logger, http2: config.http.http2 });
  closers.push(() => apps.close());
  for (const a of config.applications) logger.info({ path: a.path, ...(a.kind === 'module' ? { module: a.module } : { upstream: a.origin + a.basePath }), auth: a.auth }, 'application');
  return apps;
}
