import type { ApplicationConfig, HarperConfig } from '@harper-tls/config';
import { isServerPath, matchApplication } from '@harper-tls/server';
import { CliError } from '../errors.js';
import type { Report } from './report.js';

/** `--path`: the request path as the server routes it (dot segments resolved, query dropped). */
export function normalizePath(value: string): string {
  if (!value.startsWith('/')) throw new CliError(`--path must be a URL path starting with "/", e.g. /api/orders; got "${value}"`);
  return new URL(value, 'http://localhost').pathname;
}

function describe(app: ApplicationConfig): string {
  const target = app.kind === 'module' ? `module ${app.module}` : `upstream ${app.origin}${app.basePath}`;
  return `${app.where.key} (path ${app.path}, ${target}${app.stripPrefix ? ', stripPrefix' : ''}, auth ${app.auth}${app.roles ? `, roles ${app.roles.join(', ')}` : ''})`;
}

/**
 * Which application a request for `path` reaches (SPEC.md section 6) and, when the certificate
 * named a user, whether that user may use it. Returns the entry, if any.
 */
export function explainPath(report: Report, config: HarperConfig, path: string, user?: { username: string; role: string }): ApplicationConfig | undefined {
  if (isServerPath(path)) {
    report.say('info', `path ${path}: one of the server's own paths (/health, /whoami, /metrics, /ca/*), never an application's`);
    return undefined;
  }
  const app = matchApplication(config.applications, path);
  if (!app) {
    report.say('info', `path ${path}: no application serves it (${config.applications.length ? 'no entry of applications matches' : 'applications is empty'}): 404 {"error":"Not found"}`);
    return undefined;
  }
  report.say('info', `path ${path}: served by ${describe(app)}`);
  if (app.auth === 'none') report.say('info', 'application: auth none: no authentication is tried and no identity is passed on');
  else if (user && app.roles && !app.roles.includes(user.role)) {
    report.fail('application', `application: user "${user.username}" has role ${user.role}, which is not in ${app.where.key}.roles (${app.roles.join(', ')})`, `role ${user.role} may not use ${app.path}`);
  } else if (user) report.say('ok', `application: user "${user.username}" (role ${user.role}) may use it${app.roles ? ` (role in ${app.where.key}.roles)` : ''}`);
  return app;
}
