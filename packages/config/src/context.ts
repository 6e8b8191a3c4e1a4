import type { ConfigIssue } from './issues.js';
import { formatPath, type Origin, type PathPart, type RawConfig } from './sources.js';

/** Reads values from the layered raw configuration and collects every issue with its origin. */
export class ResolveContext {
  readonly issues: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  constructor(
    readonly raw: RawConfig,
    readonly rootPath: string,
    readonly configPath: string,
    readonly homedir: string,
  ) {}

  get(path: readonly PathPart[]): unknown {
    let node: unknown = this.raw.value;
    for (const p of path) {
      if (node === null || typeof node !== 'object') return undefined;
      node = (node as Record<string | number, unknown>)[p];
    }
    return node;
  }

  /** The origin of `path`, or of its nearest configured parent, or 'default'. */
  origin(path: readonly PathPart[]): Origin {
    for (let i = path.length; i > 0; i--) {
      const o = this.raw.origins.get(formatPath(path.slice(0, i)));
      if (o) return o;
    }
    return { source: 'default' };
  }

  /** Text naming where a value came from: `harperdb-config.yaml:12`, `env TLS_CERTIFICATE`, `default`. */
  originText(path: readonly PathPart[]): string {
    const o = this.origin(path);
    if (o.source === 'file') return `${o.file}${o.line ? `:${o.line}` : ''}`;
    if (o.source === 'env') return `env ${o.name}`;
    if (o.source === 'cli') return `${o.name}`;
    return 'default';
  }

  issue(path: readonly PathPart[], value: unknown, message: string, warning = false): void {
    const o = this.origin(path);
    (warning ? this.warnings : this.issues).push({ key: formatPath(path), ...o, value, message });
  }
}
