import { RevocationError } from '../errors.js';

export type FetchLike = (url: string, init: { method?: string; body?: Uint8Array; headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

export interface FetchBytesOptions {
  /** Whole-request timeout, headers and body, ms. */
  timeoutMs: number;
  /** Largest body accepted, bytes. */
  maxBytes: number;
  fetch?: FetchLike;
  method?: 'GET' | 'POST';
  body?: Uint8Array;
  headers?: Record<string, string>;
}

/**
 * Downloads `url` (http or https only) into memory with a hard timeout covering the body and a
 * streamed size limit, so a slow, hung or huge response costs at most `timeoutMs` and
 * `maxBytes`. Never blocks the event loop.
 * @throws RevocationError ERR_REVOCATION_FETCH | ERR_REVOCATION_TIMEOUT | ERR_REVOCATION_TOO_LARGE
 */
export async function fetchBytes(url: string, opts: FetchBytesOptions): Promise<Uint8Array> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RevocationError('ERR_REVOCATION_FETCH', `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RevocationError('ERR_REVOCATION_FETCH', `${parsed.protocol.replace(':', '')} URLs are not supported (${url}); only http and https`);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  const doFetch = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  try {
    const res = await doFetch(url, { method: opts.method ?? 'GET', body: opts.body, headers: opts.headers, signal: controller.signal });
    if (!res.ok) throw new RevocationError('ERR_REVOCATION_FETCH', `${url} answered HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > opts.maxBytes) throw new RevocationError('ERR_REVOCATION_TOO_LARGE', `${url} is ${declared} bytes, over the ${opts.maxBytes}-byte limit`);
    if (!res.body) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > opts.maxBytes) {
        controller.abort();
        throw new RevocationError('ERR_REVOCATION_TOO_LARGE', `${url} sent more than the ${opts.maxBytes}-byte limit`);
      }
      chunks.push(value);
    }
    return new Uint8Array(Buffer.concat(chunks));
  } catch (err) {
    if (err instanceof RevocationError) throw err;
    if (controller.signal.aborted) throw new RevocationError('ERR_REVOCATION_TIMEOUT', `${url} did not answer within ${opts.timeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new RevocationError('ERR_REVOCATION_FETCH', `${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** Concurrent calls with the same key share one in-flight promise. */
export function createSingleFlight<T>() {
  const inflight = new Map<string, Promise<T>>();
  return {
    run(key: string, fn: () => Promise<T>): Promise<T> {
      let p = inflight.get(key);
      if (!p) {
        p = fn().finally(() => inflight.delete(key));
        inflight.set(key, p);
      }
      return p;
    },
    get size() {
      return inflight.size;
    },
  };
}
