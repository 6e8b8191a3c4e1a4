import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode, parse as parseYaml } from 'yaml';
import type { ConfigIssue } from './issues.js';
import { allPaths, envName, suggest } from './keys.js';
import { allHarperPaths } from './harper-schema.js';

export type PathPart = string | number;

/** Where a value came from. */
export interface Origin {
  source: ConfigIssue['source'];
  file?: string;
  line?: number;
  column?: number;
  /** Environment variable or command-line flag. */
  name?: string;
}

/** `['tls', 1, 'certificate']` → `tls[1].certificate` */
export function formatPath(path: readonly PathPart[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** The layered raw configuration: plain values plus the origin of each path. */
export interface RawConfig {
  value: Record<string, unknown>;
  origins: Map<string, Origin>;
}

/** Parses the YAML file, recording the line and column of every key. Syntax errors become issues. */
const MAX_NESTING = 256;

/** The line where flow brackets ([ {) or indentation go deeper than `max` levels, else undefined. Quote-unaware: conservative. */
function nestingBeyond(text: string, max: number): number | undefined {
  let depth = 0;
  let line = 1;
  let indent = 0;
  let atLineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      indent = 0;
      atLineStart = true;
      continue;
    }
    if (atLineStart) {
      if (c === 32 || c === 9 || c === 45) {
        // spaces, tabs and "- " sequence markers all open a block level
        if (++indent > max) return line;
        continue;
      }
      atLineStart = false;
    }
    if (c === 91 || c === 123) {
      if (++depth > max) return line;
    } else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return undefined;
}

export function readYaml(text: string, file: string, issues: ConfigIssue[]): RawConfig {
  const origins = new Map<string, Origin>();
  // Deep nesting makes the yaml parser slow (seconds at ~50k flow levels) or overflow the stack
  // (block maps a few thousand levels deep); no configuration nests beyond a handful of levels.
  const tooDeep = nestingBeyond(text, MAX_NESTING);
  if (tooDeep !== undefined) {
    issues.push({ key: '(file)', file, line: tooDeep, column: 1, source: 'file', message: `YAML nested deeper than ${MAX_NESTING} levels` });
    return { value: {}, origins };
  }
  const lineCounter = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, logLevel: 'error' });
  } catch (err) {
    issues.push({ key: '(file)', file, line: 1, column: 1, source: 'file', message: `YAML error: ${(err as Error).message.split('\n')[0]}` });
    return { value: {}, origins };
  }
  for (const err of doc.errors) {
    const pos = lineCounter.linePos(err.pos[0]);
    issues.push({ key: '(file)', file, line: pos.line, column: pos.col, source: 'file', message: `YAML syntax error: ${err.message.split('\n')[0]}` });
  }
  if (doc.errors.length) return { value: {}, origins };
  const at = (offset: number | undefined): Origin => {
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset);
    return { source: 'file', file, line: pos?.line, column: pos?.col };
  };
  const walk = (node: YamlNode | null | undefined, path: PathPart[]) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const p = [...path, key];
        origins.set(formatPath(p), at(keyNode?.range?.[0]));
        walk(pair.value as YamlNode, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = [...path, i];
        origins.set(formatPath(p), at((item as YamlNode)?.range?.[0]));
        walk(item as YamlNode, p);
      });
    }
  };
  walk(doc.contents as YamlNode, []);
  let value: unknown;
  try {
    // toJS can still throw on documents the parser accepted (an alias with no anchor, alias bombs).
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    issues.push({ key: '(file)', file, line: 1, column: 1, source: 'file', message: `YAML error: ${(err as Error).message.split('\n')[0]}` });
    return { value: {}, origins };
  }
  if (value === null || value === undefined) return { value: {}, origins };
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.push({ key: '(file)', file, line: 1, column: 1, source: 'file', message: 'the configuration must be a YAML mapping of keys to values' });
    return { value: {}, origins };
  }
  return { value: value as Record<string, unknown>, origins };
}

/** An override value that starts with `[` or `{` but is not JSON. */
export class OverrideJsonError extends Error {}

/**
 * Parses an environment or command-line value: a value starting with `[` or `{` is JSON (so list
 * and object keys can be set there), anything else a YAML scalar; PEM text stays text.
 * @throws OverrideJsonError when a `[`/`{` value is not valid JSON.
 */
export function parseOverrideValue(text: string): unknown {
  const trimmed = text.trimStart();
  // JSON first: an object such as TLS='{"certificate":"-----BEGIN ...","privateKey":"..."}' holds PEM too.
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      const pem = text.includes('-----BEGIN') ? '; PEM text inside JSON needs its line breaks written as \\n' : '';
      throw new OverrideJsonError(`starts with "${trimmed[0]}" but is not valid JSON (${(err as Error).message.split('\n')[0]})${pem}; e.g. ["https://app.example.com"] or {"required": true}`);
    }
  }
  if (text.includes('-----BEGIN')) return text;
  try {
    return parseYaml(text, { logLevel: 'error' });
  } catch {
    return text;
  }
}

function parseOrIssue(text: string, issue: Omit<ConfigIssue, 'message'>, issues: ConfigIssue[]): { value: unknown } | undefined {
  try {
    return { value: parseOverrideValue(text) };
  } catch (err) {
    if (!(err instanceof OverrideJsonError)) throw err;
    issues.push({ ...issue, value: text.includes('-----BEGIN') ? '(inline PEM)' : text, message: err.message });
    return undefined;
  }
}

/** Sets `value` at `path`, creating objects; a scalar or array on the way is replaced or entered (arrays: first entry). */
function setAt(target: Record<string, unknown>, path: readonly string[], value: unknown): PathPart[] {
  let node: Record<string, unknown> = target;
  const actual: PathPart[] = [];
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    actual.push(key);
    let next = node[key];
    if (Array.isArray(next)) {
      actual.push(0);
      if (typeof next[0] !== 'object' || next[0] === null) next[0] = {};
      node = next[0] as Record<string, unknown>;
      continue;
    }
    if (typeof next !== 'object' || next === null) {
      next = {};
      node[key] = next;
    }
    node = next as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  node[last] = value;
  actual.push(last);
  return actual;
}

const KNOWN_PATHS = allPaths();
/** Command-line names: harper-tls's keys, then Harper's (accepted, type-checked and reported as ignored). */
const CLI_PATHS = [...KNOWN_PATHS, ...allHarperPaths()];

/**
 * Applies `HTTP_SECUREPORT=...`-style environment variables (harper-tls's keys only, parents
 * before children: a Harper-only name such as `MQTT` or `THREADS` could be anything in an environment).
 */
export function applyEnv(raw: RawConfig, env: Record<string, string | undefined>, issues: ConfigIssue[] = []): void {
  for (const path of KNOWN_PATHS) {
    const name = envName(path);
    const text = env[name];
    if (text === undefined || text === '') continue;
    const parsed = parseOrIssue(text, { key: path.join('.'), source: 'env', name }, issues);
    if (!parsed) continue;
    const actual = setAt(raw.value, path, parsed.value);
    raw.origins.set(formatPath(actual), { source: 'env', name });
  }
}

/**
 * Applies `--KEY VALUE`, `--KEY=VALUE`, `--a.b.c VALUE` (case-insensitive). Unknown keys and
 * missing values are issues.
 */
export function applyCli(raw: RawConfig, args: readonly string[], issues: ConfigIssue[]): void {
  const pairs: Array<{ flag: string; key: string; text: string }> = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      issues.push({ key: arg, source: 'cli', name: arg, message: 'unexpected argument; configuration values are given as --KEY VALUE' });
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq !== -1) pairs.push({ flag: arg.slice(0, eq), key: arg.slice(2, eq), text: arg.slice(eq + 1) });
    else if (i + 1 < args.length) pairs.push({ flag: arg, key: arg.slice(2), text: args[++i]! });
    else issues.push({ key: arg.slice(2), source: 'cli', name: arg, message: 'needs a value: --KEY VALUE' });
  }
  const byName = new Map<string, string[]>();
  for (const p of CLI_PATHS) {
    if (!byName.has(envName(p))) byName.set(envName(p), p);
    if (!byName.has(p.join('.').toUpperCase())) byName.set(p.join('.').toUpperCase(), p);
  }
  for (const { flag, key, text } of pairs) {
    const path = byName.get(key.toUpperCase());
    if (!path) {
      const hint = suggest(key.toUpperCase(), [...byName.keys()].filter((k) => !k.includes('.')));
      issues.push({ key, source: 'cli', name: flag, message: `unknown configuration key${hint ? `; did you mean --${hint}?` : ''}` });
      continue;
    }
    const parsed = parseOrIssue(text, { key, source: 'cli', name: flag }, issues);
    if (!parsed) continue;
    const actual = setAt(raw.value, path, parsed.value);
    raw.origins.set(formatPath(actual), { source: 'cli', name: flag });
  }
}
