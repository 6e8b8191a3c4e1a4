/**
 * This node's copy of every record, by namespace, and the last change version applied. Reads are
 * synchronous and never wait for the engine. Listeners hear of every changed key once it is
 * visible here.
 */
export class Mirror {
  version = 0;
  readonly #ns = new Map<string, Map<string, Buffer>>();
  readonly #listeners = new Map<string, Set<(key: string) => void>>();

  #map(ns: string): Map<string, Buffer> {
    let m = this.#ns.get(ns);
    if (!m) this.#ns.set(ns, (m = new Map()));
    return m;
  }

  get(ns: string, key: string): Buffer | undefined {
    return this.#ns.get(ns)?.get(key);
  }

  /** Keys of `ns` starting with `prefix`, sorted (as lmdb lists them). */
  list(ns: string, prefix = ''): Array<[string, Buffer]> {
    const m = this.#ns.get(ns);
    if (!m) return [];
    return [...m].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Every record (the last-known state a node saves). */
  entries(): Array<{ ns: string; key: string; value: Buffer }> {
    const out: Array<{ ns: string; key: string; value: Buffer }> = [];
    for (const [ns, m] of this.#ns) for (const [key, value] of m) out.push({ ns, key, value });
    return out;
  }

  size(ns: string): number {
    return this.#ns.get(ns)?.size ?? 0;
  }

  load(version: number, rows: Array<{ ns: string; key: string; value: Buffer }>): void {
    this.#ns.clear();
    for (const r of rows) this.#map(r.ns).set(r.key, r.value);
    this.version = version;
  }

  /**
   * Replaces the whole copy with the engine's state at `version` (a node that was away longer than
   * the change log keeps rows), telling the listeners of every key that appeared, changed or went.
   */
  replace(version: number, rows: Array<{ ns: string; key: string; value: Buffer }>): number {
    const next = new Map<string, Map<string, Buffer>>();
    for (const r of rows) {
      let m = next.get(r.ns);
      if (!m) next.set(r.ns, (m = new Map()));
      m.set(r.key, r.value);
    }
    const changes: Array<{ ns: string; key: string; value?: Buffer }> = [];
    for (const [ns, m] of this.#ns) for (const key of m.keys()) if (!next.get(ns)?.has(key)) changes.push({ ns, key, value: undefined });
    for (const [ns, m] of next) {
      for (const [key, value] of m) {
        const old = this.#ns.get(ns)?.get(key);
        if (!old || !old.equals(value)) changes.push({ ns, key, value });
      }
    }
    this.#set(changes);
    this.version = version;
    this.#notify(changes);
    return changes.length;
  }

  /** Applies changes up to `version` (never backwards) and tells the listeners. */
  apply(version: number, changes: Array<{ ns: string; key: string; value?: Buffer }>): void {
    if (version < this.version) return;
    this.#set(changes);
    this.version = version;
    this.#notify(changes);
  }

  /** A committed change not yet read back (the engine went away right after the commit). */
  applyAhead(changes: Array<{ ns: string; key: string; value?: Buffer }>): void {
    this.#set(changes);
    this.#notify(changes);
  }

  #set(changes: Array<{ ns: string; key: string; value?: Buffer }>): void {
    for (const c of changes) {
      if (c.value === undefined) this.#ns.get(c.ns)?.delete(c.key);
      else this.#map(c.ns).set(c.key, c.value);
    }
  }

  #notify(changes: Array<{ ns: string; key: string }>): void {
    for (const c of changes) {
      const ls = this.#listeners.get(c.ns);
      if (ls) for (const l of ls) l(c.key);
    }
  }

  onChange(ns: string, listener: (key: string) => void): () => void {
    let s = this.#listeners.get(ns);
    if (!s) this.#listeners.set(ns, (s = new Set()));
    s.add(listener);
    return () => s!.delete(listener);
  }
}
