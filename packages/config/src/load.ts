import { readCluster } from './cluster.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, writeSync, fsyncSync, closeSync, linkSync, renameSync, readFileSync, rmSync } from 'node:fs';
import { homedir as osHomedir, hostname as osHostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { HarperConfig } from './types.js';
import { ConfigError, type ConfigIssue } from './issues.js';
import { expandHome, resolveRootPath } from './root.js';
import { applyCli, applyEnv, readYaml, type RawConfig } from './sources.js';
import { ResolveContext } from './context.js';
import { checkUnknownKeys } from './unknown-keys.js';
import { readBoolean, readDirectory, readDuration, readMs, readString } from './values.js';
import { readNetwork } from './listener.js';
import { withProxies } from './proxies-section.js';
import { readLogging } from './logging.js';
import { readThreads } from './threads.js';
import { readTls } from './tls.js';
import { DEFAULT_CONFIG_YAML } from './default-config.js';
import { readApplications } from './applications.js';

export interface LoadConfigOptions {
  /** `--root DIR`; else `env.ROOTPATH`, else `~/hdb`. */
  root?: string;
  /** `--config FILE`; default `<root>/harperdb-config.yaml`. */
  configFile?: string;
  /** Raw `--KEY VALUE` arguments. */
  overrides?: readonly string[];
  /** Default `process.env`. */
  env?: Record<string, string | undefined>;
  homedir?: string;
  /** Write the default file when it is missing. Default true. */
  createIfMissing?: boolean;
}

export interface LoadConfigResult {
  config: HarperConfig;
  warnings: ConfigIssue[];
  /** True when this call created the file. */
  created: boolean;
}

/** Link is how a file is created only if absent; these mean the file system has no hard links. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Writes `text` to a fresh temporary file beside `path`, fsyncs it, and links it to `path` only if
 * `path` does not exist yet (EEXIST: someone else created it meanwhile, theirs wins: false). The
 * temporary file is always removed; its name is random, so a stale one from a crash (pid 1 in
 * every container) never blocks a later start. An fs error is a ConfigError naming the file.
 */
function writeNewFile(path: string, text: string): boolean {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let tmpMade = false;
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, 'wx', 0o644);
    tmpMade = true;
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST') return false;
      if (!NO_LINKS.has(code)) throw err;
      if (existsSync(path)) return false;
      renameSync(tmp, path);
      tmpMade = false;
    }
    fsyncDir(dir);
    return true;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([{ key: '(file)', file: path, source: 'file', message: `cannot create the configuration file: ${e.message ?? e.code} (check --root / ROOTPATH, and that its folder can be written)` }]);
  } finally {
    if (tmpMade) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // a leftover has a random name and blocks nothing
      }
    }
  }
}

/** Makes the new directory entry durable; not every platform can open a folder, which is fine. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * The root after layering: `--root` wins, then the `ROOTPATH` environment variable (which is also
 * the environment name of the `rootPath` key), then `rootPath` from the command line or the file.
 */
function finalRoot(raw: RawConfig, initial: string, opts: LoadConfigOptions, env: Record<string, string | undefined>, home: string, issues: ConfigIssue[]): string {
  if (opts.root || env.ROOTPATH) return initial;
  const v = raw.value.rootPath;
  if (v === undefined || v === null) return initial;
  if (typeof v === 'string' && v.trim() !== '' && !v.includes('\0')) return resolve(expandHome(v, home));
  const o = raw.origins.get('rootPath');
  issues.push({ key: 'rootPath', ...(o ?? { source: 'default' }), value: v, message: 'expected a directory path (or null for the default root)' });
  return initial;
}

function readDomainSocket(ctx: ResolveContext): string | null {
  const path = ['operationsApi', 'network', 'domainSocket'];
  if (ctx.get(path) === undefined || ctx.get(path) === null) return null;
  const socket = readDirectory(ctx, path, '');
  if (socket && Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    ctx.issue(path, ctx.get(path), `the socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes, which Unix sockets do not allow; choose a shorter path or root`);
  }
  return socket || null;
}

function checkPorts(ctx: ResolveContext, config: HarperConfig): void {
  const ports: Array<[string[], number | null]> = [
    [['http', 'port'], config.http.port],
    [['http', 'securePort'], config.http.securePort],
    [['operationsApi', 'network', 'port'], config.operationsApi.network.port],
    [['operationsApi', 'network', 'securePort'], config.operationsApi.network.securePort],
  ];
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const [a, pa] = ports[i]!;
      const [b, pb] = ports[j]!;
      if (pa !== null && pa === pb) ctx.issue(b, pb, `the same port as ${a.join('.')}; two listeners cannot share a port (set a different one, or null to disable)`);
    }
  }
}

/**
 * Loads `<root>/harperdb-config.yaml` (creating it with the defaults on first start), applies
 * environment and command-line overrides, and validates everything at once.
 * @throws ConfigError listing every problem with its file, line, key and value.
 */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<LoadConfigResult> {
  const env = opts.env ?? process.env;
  const home = opts.homedir ?? osHomedir();
  const rootPath = resolveRootPath({ root: opts.root, env, homedir: home });
  const configPath = opts.configFile ? resolve(expandHome(opts.configFile, home)) : join(rootPath, 'harperdb-config.yaml');
  const issues: ConfigIssue[] = [];
  let created = false;
  let text = '';
  const read = (): string => {
    try {
      return readFileSync(configPath, 'utf8');
    } catch (err) {
      throw new ConfigError([{ key: '(file)', file: configPath, source: 'file', message: `cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
    }
  };
  if (existsSync(configPath)) {
    text = read();
  } else if (opts.configFile) {
    throw new ConfigError([{ key: '--config', source: 'cli', value: opts.configFile, message: 'the configuration file does not exist' }]);
  } else if (opts.createIfMissing !== false) {
    created = writeNewFile(configPath, DEFAULT_CONFIG_YAML);
    text = read();
  }
  const raw: RawConfig = text ? readYaml(text, configPath, issues) : { value: {}, origins: new Map() };
  applyEnv(raw, env, issues);
  applyCli(raw, opts.overrides ?? [], issues);

  const ctx = new ResolveContext(raw, finalRoot(raw, rootPath, opts, env, home, issues), configPath, home);
  const ignoredHarperKeys = checkUnknownKeys(ctx);
  const tls = readTls(ctx, ['tls']);
  const opsTlsRaw = ctx.get(['operationsApi', 'tls']);
  const tlsInherited = opsTlsRaw === undefined || opsTlsRaw === null;
  const config: HarperConfig = {
    rootPath: ctx.rootPath,
    configPath,
    http: withProxies(ctx, { ...readNetwork(ctx, ['http'], 9926), http2: readBoolean(ctx, ['http', 'http2'], false) }),
    tls,
    operationsApi: {
      network: { ...readNetwork(ctx, ['operationsApi', 'network'], 9925), domainSocket: readDomainSocket(ctx) },
      tls: tlsInherited ? tls : readTls(ctx, ['operationsApi', 'tls'], tls[0]),
      tlsInherited,
    },
    authentication: (() => {
      const op = readDuration(ctx, ['authentication', 'operationTokenTimeout'], '1d');
      const rf = readDuration(ctx, ['authentication', 'refreshTokenTimeout'], '30d');
      return {
        operationTokenTimeout: op.text,
        operationTokenTimeoutMs: op.ms,
        refreshTokenTimeout: rf.text,
        refreshTokenTimeoutMs: rf.ms,
        cacheTtlMs: readMs(ctx, ['authentication', 'cacheTTL'], 30_000, 0),
        authorizeLocal: readBoolean(ctx, ['authentication', 'authorizeLocal'], false),
      };
    })(),
    logging: readLogging(ctx),
    storage: { path: readDirectory(ctx, ['storage', 'path'], join(ctx.rootPath, 'database')) },
    node: { hostname: readString(ctx, ['node', 'hostname'], osHostname()) },
    cluster: readCluster(ctx, readString(ctx, ['node', 'hostname'], osHostname())),
    threads: readThreads(ctx),
    ignoredHarperKeys,
    applications: readApplications(ctx),
  };
  checkPorts(ctx, config);
  for (const [net, key] of [[config.http, 'http'], [config.operationsApi.network, 'operationsApi.network']] as const) {
    if (net.mtls && net.securePort === null) ctx.issue([...key.split('.'), 'mtls'], undefined, `has no effect: ${key}.securePort is null, so no listener asks for client certificates`, true);
  }
  const all = [...issues, ...ctx.issues];
  if (all.length) throw new ConfigError(all);
  return { config: deepFreeze(config), warnings: ctx.warnings, created };
}
