/**
 * A counter that changes whenever something that decides a client certificate's outcome changes:
 * a revocation by the local CA (here or in another process sharing the store), or the trusted CAs.
 * The authenticator recomputes an open connection's certificate outcome on its next request after
 * a change (`trustGeneration` option of @harper-tls/mtls-auth).
 */
export class TrustGeneration {
  #value = 0;
  #timers: NodeJS.Timeout[] = [];

  get value(): number {
    return this.#value;
  }

  bump(): void {
    this.#value++;
  }

  /**
   * Polls `revision` (the local CA's revision, a cheap store read) every `intervalMs` and bumps
   * on a change: how a `harper-tls cert revoke` in another process reaches open connections.
   * A failed read is retried at the next tick.
   */
  watch(revision: () => Promise<string>, intervalMs: number): void {
    let last: string | undefined;
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const r = await revision();
        if (last !== undefined && r !== last) this.bump();
        last = r;
      } catch {
        // The next tick tries again; the records themselves are read on every check anyway.
      } finally {
        busy = false;
      }
    };
    void tick();
    const t = setInterval(tick, intervalMs);
    t.unref();
    this.#timers.push(t);
  }

  close(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }
}
