import type { ResolveContext } from './context.js';
import { KEY_TREE, MTLS_KEYS, TLS_KEYS, suggest, type KeyTree } from './keys.js';
import type { PathPart } from './sources.js';
import { isPlainObject } from './values.js';

/** Reports every key the configuration does not know, with the closest known key. */
export function checkUnknownKeys(ctx: ResolveContext): void {
  walk(ctx, ctx.raw.value, KEY_TREE, []);
}

function walk(ctx: ResolveContext, value: unknown, tree: KeyTree, path: PathPart[]): void {
  if (Array.isArray(value) && tree === TLS_KEYS) {
    value.forEach((v, i) => walk(ctx, v, tree, [...path, i]));
    return;
  }
  if (!isPlainObject(value)) return; // shape errors are reported by the value readers
  for (const [key, v] of Object.entries(value)) {
    if (!(key in tree)) {
      const hint = suggest(key, Object.keys(tree));
      const where = path.length ? `under ${path.filter((p) => typeof p === 'string').join('.')}` : 'at the top level';
      ctx.issue([...path, key], undefined, `unknown key ${where}${hint ? `; did you mean "${hint}"?` : `; known keys: ${Object.keys(tree).join(', ')}`}`);
      continue;
    }
    const sub = tree[key];
    if (sub) walk(ctx, v, sub === MTLS_KEYS ? MTLS_KEYS : sub, [...path, key]);
  }
}
