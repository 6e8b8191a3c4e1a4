import type { CertInfo } from '../cert/parse.js';
import { RevocationError } from '../errors.js';
import { fetchBytes, type FetchLike } from '../fetch/fetch-bytes.js';
import { buildOcspRequest, certIdFor, ocspGetUrl, type CertIdHash } from './request.js';
import { OcspFailure, verifyOcspResponse, type OcspAnswer } from './response.js';

/** What was learnt of a responder: the CertID hash it answers, and whether it refuses GET. */
interface Learnt {
  hash?: CertIdHash;
  postOnly?: boolean;
}

/** Per responder URL memory, so the fallbacks cost one extra request per responder, not per certificate. Bounded. */
export class ResponderMemory {
  readonly #map = new Map<string, Learnt>();
  constructor(private readonly maxEntries = 1000) {}

  get(url: string): Learnt | undefined {
    return this.#map.get(url);
  }

  learn(url: string, patch: Learnt): void {
    const v = { ...this.#map.get(url), ...patch };
    this.#map.delete(url);
    this.#map.set(url, v);
    while (this.#map.size > this.maxEntries) this.#map.delete(this.#map.keys().next().value!);
  }
}

export interface OcspQueryOptions {
  /** `auto`: GET when the encoded request is under 255 bytes (RFC 5019), else POST. `post`: always POST. */
  method: 'auto' | 'post';
  /** CertID hash of the first request. */
  hash: CertIdHash;
  nonce: boolean;
  timeoutMs: number;
  maxBytes: number;
  fetch?: FetchLike;
  now: () => Date;
  /** Oldest thisUpdate accepted in a response without nextUpdate, ms (`ocsp.cacheTtl`). */
  maxAgeMs?: number;
  responders: ResponderMemory;
  /** Called before each HTTP request (for counters). */
  onRequest?: () => void;
}

/** Answers after which the same question with the other CertID hash may succeed. */
const RETRY_WITH_OTHER_HASH = new Set(['malformedRequest', 'unauthorized', 'no-matching-response']);
const otherHash = (h: CertIdHash): CertIdHash => (h === 'sha1' ? 'sha256' : 'sha1');

/**
 * Asks the responder at `url` about `cert` and verifies the answer. The first request uses the
 * configured CertID hash (or the one this responder was found to answer); if the responder says
 * `malformedRequest` or `unauthorized`, or answers about other certificates only, the question
 * is asked once more with the other hash (SHA-1 <-> SHA-256). A request goes by GET when small
 * enough (unless `method` is `post`), by POST otherwise or when the responder refuses GET with a
 * 4xx status.
 * @throws OcspFailure | RevocationError (download errors)
 */
export async function queryOcsp(cert: CertInfo, issuer: CertInfo, url: string, o: OcspQueryOptions): Promise<OcspAnswer> {
  const first = o.responders.get(url)?.hash ?? o.hash;
  try {
    return await ask(first);
  } catch (err) {
    if (!(err instanceof OcspFailure) || !RETRY_WITH_OTHER_HASH.has(err.detail ?? '')) throw err;
    const second = otherHash(first);
    try {
      const answer = await ask(second);
      o.responders.learn(url, { hash: second });
      return answer;
    } catch (err2) {
      if (!(err2 instanceof OcspFailure)) throw err2;
      throw new OcspFailure(err2.kind, `${err.message} (${first.toUpperCase()} CertID); ${err2.message} (${second.toUpperCase()} CertID)`, err2.detail);
    }
  }

  async function ask(hash: CertIdHash): Promise<OcspAnswer> {
    const certId = certIdFor(cert, issuer, hash);
    const req = buildOcspRequest(certId, { nonce: o.nonce });
    const der = await send(req.der);
    return verifyOcspResponse(der, { certId, issuer, nonce: req.nonce, at: o.now(), maxAgeMs: o.maxAgeMs });
  }

  async function send(body: Uint8Array): Promise<Uint8Array> {
    const common = { timeoutMs: o.timeoutMs, maxBytes: o.maxBytes, fetch: o.fetch };
    const getUrl = o.method === 'auto' && !o.responders.get(url)?.postOnly ? ocspGetUrl(url, body) : undefined;
    if (getUrl) {
      o.onRequest?.();
      try {
        return await fetchBytes(getUrl, { ...common, method: 'GET', headers: { accept: 'application/ocsp-response' } });
      } catch (err) {
        const status = err instanceof RevocationError ? err.httpStatus : undefined;
        // Name the responder, not the long GET URL, in what the verdict and the logs show.
        const named = err instanceof RevocationError ? new RevocationError(err.code, err.message.split(getUrl).join(`${url} (GET)`), { cause: err, httpStatus: status }) : err;
        if (status === undefined || status < 400 || status >= 500) throw named;
        // The responder does not take GET (405, 404, 414, ...): POST this request and the next ones.
        o.responders.learn(url, { postOnly: true });
      }
    }
    o.onRequest?.();
    return fetchBytes(url, { ...common, method: 'POST', body, headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' } });
  }
}
