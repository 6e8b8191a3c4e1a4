import type { ResolveContext } from './context.js';
import { KEY_TREE, TLS_KEYS, suggest, type KeyTree } from './keys.js';
import { HARPER_TREE, describeHarperTypes, harperTypeMatches, type HarperKey, type HarperTree } from './harper-schema.js';
import type { PathPart } from './sources.js';
import { isPlainObject } from './values.js';

/**
 * Walks the configuration against both trees: harper-tls's own keys (checked later by the value
 * readers), Harper's keys that harper-tls does not use (type-checked here and returned, so the
 * start can name them once), and keys neither knows (an issue with the closest known key).
 * @returns the ignored Harper keys by path without list indices (`mqtt`, `http.compressionThreshold`), in file order.
 */
export function checkUnknownKeys(ctx: ResolveContext): string[] {
  const ignored = new Set<string>();
  walkTrees(ctx, ctx.raw.value, KEY_TREE, HARPER_TREE, [], ignored);
  return [...ignored];
}

const named = (path: readonly PathPart[]) => path.filter((p) => typeof p === 'string').join('.');

function unknownKey(ctx: ResolveContext, path: PathPart[], key: string, known: string[]): void {
  const hint = suggest(key, known);
  const where = path.length ? `under ${named(path)}` : 'at the top level';
  ctx.issue([...path, key], undefined, `unknown key ${where} (neither harper-tls nor Harper has it)${hint ? `; did you mean "${hint}"?` : `; known keys: ${known.join(', ')}`}`);
}

/** The same check for a value at `path` that must have the shape `tree` alone (e.g. one option of a library): no Harper keys. */
export function walk(ctx: ResolveContext, value: unknown, tree: KeyTree, path: PathPart[]): void {
  walkTrees(ctx, value, tree, undefined, path, new Set());
}

function walkTrees(ctx: ResolveContext, value: unknown, tree: KeyTree, harper: HarperTree | undefined, path: PathPart[], ignored: Set<string>): void {
  if (Array.isArray(value) && tree === TLS_KEYS) {
    value.forEach((v, i) => walkTrees(ctx, v, tree, harper, [...path, i], ignored));
    return;
  }
  if (!isPlainObject(value)) return; // shape errors are reported by the value readers
  for (const [key, v] of Object.entries(value)) {
    const hk = harper?.[key];
    if (path.length === 0 && key === 'applications' && !isPlainObject(v)) continue; // a list is harper-tls's (applications.ts, which reports other shapes); an object is Harper's
    if (key in tree) {
      const sub = tree[key];
      if (sub) walkTrees(ctx, v, sub, hk?.keys, [...path, key], ignored);
      continue;
    }
    if (!hk) {
      unknownKey(ctx, path, key, [...new Set([...Object.keys(tree), ...Object.keys(harper ?? {})])]);
      continue;
    }
    ignored.add(named([...path, key]));
    checkHarperValue(ctx, v, hk, [...path, key]);
  }
}

/** A key harper-tls ignores: still type-checked as Harper would, so a typo'd value is not silently carried. */
function checkHarperValue(ctx: ResolveContext, value: unknown, hk: HarperKey, path: PathPart[]): void {
  if (!harperTypeMatches(hk, value)) {
    ctx.issue(path, value, `expected ${describeHarperTypes(hk.types)} (Harper's type for this key; harper-tls does not use it)`);
    return;
  }
  if (hk.open || !hk.keys) return;
  if (Array.isArray(value)) {
    if (hk.list) value.forEach((item, i) => checkHarperValue(ctx, item, { types: ['object'], keys: hk.keys }, [...path, i]));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const sub = hk.keys[key];
    if (!sub) unknownKey(ctx, path, key, Object.keys(hk.keys));
    else checkHarperValue(ctx, v, sub, [...path, key]);
  }
}
