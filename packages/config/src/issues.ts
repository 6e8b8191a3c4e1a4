import { basename } from 'node:path';
import { HarperTlsError } from './errors.js';

/** One problem with the configuration, located as precisely as its source allows. */
export interface ConfigIssue {
  /** Dotted key path, array indices in brackets: `tls[1].certificate`. */
  key: string;
  /** The configuration file, when the value came from it. */
  file?: string;
  /** 1-based line and column in `file`. */
  line?: number;
  column?: number;
  source: 'file' | 'env' | 'cli' | 'default';
  /** The environment variable or command-line flag that carried the value. */
  name?: string;
  value?: unknown;
  /** What is wrong and what is allowed. */
  message: string;
}

const PEM_SHOWN = '(inline PEM)';
const isPem = (v: unknown): boolean => typeof v === 'string' && v.includes('-----BEGIN');

/** The value as the message shows it: any string holding PEM (possibly a private key) as `(inline PEM)`, never its text. */
function showValue(value: unknown): string {
  if (value === undefined) return '';
  if (isPem(value) || value === PEM_SHOWN) return PEM_SHOWN;
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (isPem(v) ? PEM_SHOWN : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  if (text.includes('-----BEGIN')) return PEM_SHOWN;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `harperdb-config.yaml:14:5 http.securePort = 70000: out of range; expected ...` */
export function formatIssue(issue: ConfigIssue): string {
  let where: string;
  if (issue.source === 'file' && issue.file) where = `${basename(issue.file)}${issue.line ? `:${issue.line}${issue.column ? `:${issue.column}` : ''}` : ''} `;
  else if (issue.source === 'env') where = `environment ${issue.name ?? ''} `;
  else if (issue.source === 'cli') where = `command line ${issue.name ?? ''} `;
  else where = '';
  const value = issue.value === undefined ? '' : ` = ${showValue(issue.value)}`;
  const key = issue.name && issue.name.replace(/^--/, '') === issue.key ? '' : issue.key;
  return `${where}${key}${value}: ${issue.message}`.replace(/^(\S+ \S+) : /, '$1: ');
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  const file = issues.find((i) => i.file)?.file;
  const head = `Invalid configuration${file ? ` (${file})` : ''}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`;
  return [head, ...issues.map((i) => `  - ${formatIssue(i)}`)].join('\n');
}

/** The configuration cannot be used. Code `ERR_CONFIG_INVALID`; `issues` lists every problem found. */
export class ConfigError extends HarperTlsError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super('ERR_CONFIG_INVALID', formatIssues(issues));
    this.issues = issues;
  }
}
