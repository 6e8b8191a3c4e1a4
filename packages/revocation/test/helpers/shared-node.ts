import type { SharedRevocation, SharedRevocationEvent } from '../../src/cache/shared.js';

/** One node: a lock per key (FIFO), and publish awaiting every other subscriber. */
export function node() {
  const locks = new Map<string, Promise<void>>();
  const subscribers: Array<(e: SharedRevocationEvent) => Promise<void> | void> = [];
  const published: SharedRevocationEvent[] = [];
  const member = (): SharedRevocation => {
    let mine: ((e: SharedRevocationEvent) => Promise<void> | void) | undefined;
    return {
      async exclusive(key, fn) {
        const prev = locks.get(key) ?? Promise.resolve();
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        locks.set(key, prev.then(() => held));
        await prev;
        try {
          return await fn();
        } finally {
          release();
        }
      },
      async publish(e) {
        published.push(e);
        for (const s of subscribers) if (s !== mine) await s(e);
      },
      subscribe(fn) {
        mine = fn;
        subscribers.push(fn);
      },
    };
  };
  return { member, published };
}

