import { RevocationError } from '../errors.js';
import { redactUrl } from './redact-url.js';

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
  /**
   * Room left before the body: the result starts with this many zero bytes, then the body. A
   * caller that stores the body behind a small header (the CRL cache: fetch time + DER) fills the
   * header in and hands the whole array on, instead of copying the body into a new buffer. The
   * size limit applies to the body alone. Default 0.
   */
  prefixBytes?: number;
}

/**
 * Downloads `url` (http or https only) into memory with a hard timeout covering the body and a
 * streamed size limit, so a slow, hung or huge response costs at most `timeoutMs` and
 * `maxBytes`. Never blocks the event loop.
 *
 * Memory: a body whose content-length is announced (and within the limit) is read straight into
 * one buffer of that size (+ `prefixBytes`); otherwise the chunks are kept and copied once into an
 * exactly-sized buffer at the end (so a chunked body briefly takes twice its size). A
 * content-length over the limit, or a running total passing it, aborts the request at once (the
 * connection is closed, nothing more is read).
 * @throws RevocationError ERR_REVOCATION_FETCH | ERR_REVOCATION_TIMEOUT | ERR_REVOCATION_TOO_LARGE
 */
export async function fetchBytes(url: string, opts: FetchBytesOptions): Promise<Uint8Array> {
  try {
    return await fetchUnredacted(url, opts);
  } catch (err) {
    // Credentials in a URL never reach a message (verdicts and logs show them).
    if (err instanceof RevocationError && err.message !== redactUrl(err.message)) throw new RevocationError(err.code, redactUrl(err.message), { httpStatus: err.httpStatus });
    throw err;
  }
}

async function fetchUnredacted(url: string, opts: FetchBytesOptions): Promise<Uint8Array> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RevocationError('ERR_REVOCATION_FETCH', `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RevocationError('ERR_REVOCATION_FETCH', `${parsed.protocol.replace(':', '')} URLs are not supported (${url}); only http and https`);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs);
  const doFetch = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  let complete = false;
  try {
    const res = await doFetch(url, { method: opts.method ?? 'GET', body: opts.body, headers: opts.headers, signal: controller.signal });
    if (!res.ok) throw new RevocationError('ERR_REVOCATION_FETCH', `${url} answered HTTP ${res.status}`, { httpStatus: res.status });
    const header = res.headers.get('content-length');
    const declared = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
    if (declared !== undefined && declared > opts.maxBytes) throw new RevocationError('ERR_REVOCATION_TOO_LARGE', `${url} is ${declared} bytes, over the ${opts.maxBytes}-byte limit`);
    const prefix = opts.prefixBytes ?? 0;
    if (!res.body) {
      complete = true;
      return new Uint8Array(prefix);
    }
    const out = await readBody(res.body, declared, opts.maxBytes, url, prefix);
    complete = true;
    return out;
  } catch (err) {
    if (err instanceof RevocationError) throw err;
    if (timedOut) throw new RevocationError('ERR_REVOCATION_TIMEOUT', `${url} did not answer within ${opts.timeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new RevocationError('ERR_REVOCATION_FETCH', `${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
    // On any failure (status, size, parse of the length), close the connection rather than leave
    // an unread body behind it.
    if (!complete) controller.abort();
  }
}

/**
 * Reads a body into one buffer, after `prefix` zero bytes: preallocated when the length is
 * announced, else the chunks are copied once at the end. Throws ERR_REVOCATION_TOO_LARGE as soon
 * as the total passes `maxBytes`.
 */
async function readBody(body: ReadableStream<Uint8Array>, declared: number | undefined, maxBytes: number, url: string, prefix: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const tooLarge = () => new RevocationError('ERR_REVOCATION_TOO_LARGE', `${url} sent more than the ${maxBytes}-byte limit`);
  // `buf` holds prefix + body; `size` counts body bytes only.
  let buf = declared !== undefined ? new Uint8Array(prefix + declared) : undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > maxBytes) throw tooLarge();
      if (buf && prefix + size + value.byteLength <= buf.byteLength) buf.set(value, prefix + size);
      else {
        // No length announced, or more than announced: keep the chunks (after what was read so far).
        if (buf) {
          chunks.push(buf.subarray(prefix, prefix + size));
          buf = undefined;
        }
        chunks.push(value);
      }
      size += value.byteLength;
    }
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    throw err;
  }
  if (buf) return prefix + size === buf.byteLength ? buf : buf.slice(0, prefix + size);
  if (chunks.length === 1 && prefix === 0) return chunks[0]!;
  const out = new Uint8Array(prefix + size);
  let at = prefix;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
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
