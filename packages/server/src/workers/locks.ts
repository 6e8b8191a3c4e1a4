/**
 * Node-wide locks held by the primary for its workers: one holder per key, the others queued
 * in arrival order; a worker that dies releases what it held or waited for.
 */
export class LockTable {
  readonly #queues = new Map<string, Array<{ worker: number; id: number; grant: () => void }>>();

  acquire(key: string, worker: number, id: number, grant: () => void): void {
    const q = this.#queues.get(key) ?? [];
    q.push({ worker, id, grant });
    this.#queues.set(key, q);
    if (q.length === 1) grant();
  }

  release(worker: number, id: number): void {
    for (const [key, q] of this.#queues) {
      const i = q.findIndex((e) => e.worker === worker && e.id === id);
      if (i === -1) continue;
      this.#drop(key, q, (e, j) => j === i);
      return;
    }
  }

  releaseAll(worker: number): void {
    for (const [key, q] of [...this.#queues]) this.#drop(key, q, (e) => e.worker === worker);
  }

  /** Keys held or waited for (tests). */
  get size(): number {
    return this.#queues.size;
  }

  #drop(key: string, q: Array<{ worker: number; id: number; grant: () => void }>, match: (e: { worker: number }, i: number) => boolean): void {
    const headBefore = q[0];
    const rest = q.filter((e, i) => !match(e, i));
    if (rest.length === 0) this.#queues.delete(key);
    else {
      this.#queues.set(key, rest);
      if (rest[0] !== headBefore) rest[0]!.grant();
    }
  }
}
