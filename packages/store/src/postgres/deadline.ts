import { StoreError } from '../errors.js';

/**
 * `p`, or ERR_STORE_UNAVAILABLE "`what`: no answer within `ms` ms" when it has not settled by
 * then (the engine stopped, not closed: its socket stays open and nothing answers). The timer is
 * cleared either way; `p` itself is not cancelled (the caller destroys its connection).
 */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreError('ERR_STORE_UNAVAILABLE', `${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
