import type { CertificateVerificationConfig } from '@harper-tls/config';
import type { CertInfo } from './cert/parse.js';
import { isIssuedBy } from './cert/verify.js';
import { namesEqual } from './der/name.js';
import { RevocationError } from './errors.js';
import type { Logger } from './logger.js';
import { FaultLog } from './fault-log.js';
import { CrlCache, type RevocationStore } from './cache/crl-cache.js';
import type { SharedRevocation } from './cache/shared.js';
import { OcspCache } from './cache/ocsp-cache.js';
import { sharedOcsp, type LockingStore } from './cache/shared-ocsp.js';
import { CrlResultMemo } from './crl/memo.js';
import { parseCrl, type ParsedCrl } from './crl/parse.js';
import { createSingleFlight, type FetchLike } from './fetch/fetch-bytes.js';
import { certIdFor, certIdKey, type CertIdHash } from './ocsp/request.js';
import { OcspFailure, type OcspAnswer } from './ocsp/response.js';
import { queryOcsp, ResponderMemory } from './ocsp/query.js';
import { normalizeChain, ParsedCertificateCache, type CertificateInput } from './input.js';
import { Authorities, type RevocationAuthority } from './authority/authority.js';

export type Status = 'good' | 'revoked' | 'unknown';

export interface CertificateVerdict {
  subject: string;
  serialHex: string;
  status: Status;
  /** `authority`: the issuing CA's own records (options.authorities), instead of CRL and OCSP. */
  method?: 'crl' | 'ocsp' | 'authority';
  reason?: string;
  source?: string;
  cache?: 'hit' | 'miss' | 'stale';
  ms: number;
  errors: string[];
}

export interface RevocationVerdict {
  status: Status;
  /** After failure modes: good → true, revoked → false, unknown → per the modes (see README). */
  allowed: boolean;
  certificates: CertificateVerdict[];
}

export interface RevocationChecker {
  /**
   * `chain`: leaf first, each certificate followed by its issuer, the trust anchor last.
   * `opts.at`: the time to check at (default the checker's clock). `opts.noFetch`: use only local
   * and cached CRLs and cached OCSP answers. `opts.crlSigners`: certificates off the chain that may
   * sign CRLs (a separate CRL-signing key, an indirect CRL issuer); they are used only once their
   * own path to the anchor validates.
   */
  check(chain: CertificateInput[] | CertificateInput, opts?: { at?: Date; noFetch?: boolean; crlSigners?: CertificateInput[] }): Promise<RevocationVerdict>;
  close(): Promise<void>;
  /** Counters for metrics and tests. */
  readonly stats: { crlDownloads: number; ocspRequests: number };
}

export interface RevocationCheckerOptions {
  /** `certificateVerification` settings (SPEC.md section 2), already validated by @harper-tls/config. */
  config: CertificateVerificationConfig;
  /** Default global fetch. */
  fetch?: FetchLike;
  /** Default `() => new Date()`. */
  now?: () => Date;
  logger?: Logger;
  /** Persistent CRL cache. */
  store?: RevocationStore;
  /** CRLs given locally (DER or PEM), used before any download. */
  crls?: Uint8Array[];
  /** Largest CRL or OCSP response accepted, bytes. Default 256 MiB. */
  maxDownloadBytes?: number;
  /** Send a nonce in OCSP requests. Default true. */
  ocspNonce?: boolean;
  /**
   * How OCSP requests are sent. `auto` (default): GET `<responder URL>/<url-encoded base64
   * request>` when that is under 255 bytes (RFC 5019; cacheable by HTTP caches), else POST.
   * `post`: always POST.
   */
  ocspMethod?: 'auto' | 'post';
  /**
   * Hash of the CertID in OCSP requests. Default `sha1` (what every responder knows). Either way a
   * responder that answers `unauthorized` or `malformedRequest`, or about other certificates
   * only, is asked once more with the other hash, and that hash is kept for that responder.
   */
  ocspHash?: CertIdHash;
  /**
   * Failed CRL downloads and OCSP requests are logged at warn at most once per URL and error
   * code per this interval, ms; the next line after it carries `suppressed: <repeats>`. Default
   * 60000.
   */
  faultLogIntervalMs?: number;
  /**
   * CAs whose own records answer for the certificates they issued, before any CRL or OCSP: the
   * server's local CA, so that its revocations apply at once (no CRL cache in between). A serial
   * without a record is checked by CRL and OCSP as usual.
   */
  authorities?: RevocationAuthority[];
  /**
   * Other processes checking for the same node (the server's workers): a CRL is downloaded once
   * per node (single flight across them) and read by the others from `store`; an OCSP query is
   * made once and its answer handed to them. Every refresh reaches all of them before it is used.
   */
  shared?: SharedRevocation;
}

type MethodOutcome =
  | { kind: 'answer'; status: 'good' | 'revoked'; reason?: string; source?: string; cache?: CertificateVerdict['cache'] }
  | { kind: 'none'; errors: string[] } // nothing to ask, or nothing in scope
  | { kind: 'error'; errors: string[]; invalid: boolean; cache?: CertificateVerdict['cache'] };

const httpUrls = (urls: string[]) => urls.filter((u) => /^https?:\/\//i.test(u));

/**
 * Checks every certificate of a chain below its trust anchor (the last certificate): CRL first
 * (local CRLs, then the certificate's distribution points), OCSP when the CRLs give no answer,
 * then the failure modes. See the package README for the exact failure-mode rules.
 */
export function createRevocationChecker(options: RevocationCheckerOptions): RevocationChecker {
  const { config } = options;
  if (!config || config.enabled !== true) throw new RevocationError('ERR_REVOCATION_INPUT', 'createRevocationChecker needs the certificateVerification settings (enabled: true)');
  const now = options.now ?? (() => new Date());
  const maxBytes = options.maxDownloadBytes ?? 256 * 1024 * 1024;
  const local: ParsedCrl[] = (options.crls ?? []).map((b) => parseCrl(b));
  const faultLogIntervalMs = options.faultLogIntervalMs ?? 60_000;
  if (!(faultLogIntervalMs >= 0)) throw new RevocationError('ERR_REVOCATION_INPUT', `faultLogIntervalMs must be a number of ms >= 0, not ${String(faultLogIntervalMs)}`);
  const faults = new FaultLog({ logger: options.logger, now, intervalMs: faultLogIntervalMs });
  const crlCache = new CrlCache({ faults, timeoutMs: config.crl.timeout, cacheTtlMs: config.crl.cacheTtl, gracePeriodMs: config.crl.gracePeriod, maxBytes, fetch: options.fetch, store: options.store, now, logger: options.logger, shared: options.shared });
  const ocspCache = new OcspCache({ cacheTtlMs: config.ocsp.cacheTtl, errorCacheTtlMs: config.ocsp.errorCacheTtl });
  const ocspFlight = createSingleFlight<OcspAnswer>();
  // Several nodes: one OCSP question per certificate for the whole cluster (cache/shared-ocsp.ts).
  const clusterOcsp = options.store?.lock ? sharedOcsp(options.store as LockingStore, { cacheTtlMs: config.ocsp.cacheTtl, now }) : undefined;
  const responders = new ResponderMemory();
  const parsed = new ParsedCertificateCache();
  const authorities = new Authorities(options.authorities, parsed);
  // Signatures already verified between two cached (hence unchanging) certificates.
  const issuedBy = new WeakMap<CertInfo, WeakSet<CertInfo>>();
  const issuedByMemo = (cert: CertInfo, issuer: CertInfo): boolean => {
    if (issuedBy.get(cert)?.has(issuer)) return true;
    if (!isIssuedBy(cert, issuer)) return false;
    let set = issuedBy.get(cert);
    if (!set) issuedBy.set(cert, (set = new WeakSet()));
    set.add(issuer);
    return true;
  };
  const ocspMethod = options.ocspMethod ?? 'auto';
  const ocspHash = options.ocspHash ?? 'sha1';
  if (ocspMethod !== 'auto' && ocspMethod !== 'post') throw new RevocationError('ERR_REVOCATION_INPUT', `ocspMethod must be 'auto' or 'post', not ${JSON.stringify(ocspMethod)}`);
  if (ocspHash !== 'sha1' && ocspHash !== 'sha256') throw new RevocationError('ERR_REVOCATION_INPUT', `ocspHash must be 'sha1' or 'sha256', not ${JSON.stringify(ocspHash)}`);
  const stats = { crlDownloads: 0, ocspRequests: 0 };
  let closed = false;
  options.shared?.subscribe(async (event) => {
    if (event.kind === 'crl') await crlCache.reload(event.url);
    else ocspCache.putAnswer(event.key, event.answer, event.at);
  });

  // What a certificate asks of the CRLs, which depends on it alone (the local CRLs are fixed).
  const crlSources = new WeakMap<CertInfo, { urls: string[]; relevantLocal: number }>();
  const sourcesOf = (cert: CertInfo) => {
    let s = crlSources.get(cert);
    if (!s) {
      const urls = httpUrls(cert.crlDistributionPoints.flatMap((dp) => dp.fullNames.filter((n) => n.type === 'uri').map((n) => (n as { value: string }).value)));
      s = { urls, relevantLocal: local.filter((c) => namesEqual(c.issuerDer, cert.issuerDer) || c.idp?.indirectCRL).length };
      crlSources.set(cert, s);
    }
    return s;
  };
  const crlResults = new CrlResultMemo();

  async function viaCrl(cert: CertInfo, issuer: CertInfo, chain: CertInfo[], anchor: CertInfo, at: Date, noFetch: boolean): Promise<MethodOutcome> {
    const { urls, relevantLocal } = sourcesOf(cert);
    if (urls.length === 0 && relevantLocal === 0) return { kind: 'none', errors: ['no CRL distribution point and no local CRL'] };
    const downloaded: ParsedCrl[] = [];
    // Each CRL is held (a CRL read from the store's map stays valid) until the evaluation is done.
    const held: Array<() => void> = [];
    try {
      return await evaluateCrls(cert, issuer, chain, anchor, at, noFetch, urls, relevantLocal, downloaded, held);
    } finally {
      for (const done of held) done();
    }
  }

  async function evaluateCrls(cert: CertInfo, issuer: CertInfo, chain: CertInfo[], anchor: CertInfo, at: Date, noFetch: boolean, urls: string[], relevantLocal: number, downloaded: ParsedCrl[], held: Array<() => void>): Promise<MethodOutcome> {
    const fetchErrors: string[] = [];
    let cache: CertificateVerdict['cache'];
    for (const url of urls) {
      const r = await crlCache.get(url, { noFetch });
      held.push(r.done);
      stats.crlDownloads = crlCache.downloads;
      if (r.crl) downloaded.push(r.crl);
      if (r.error) fetchErrors.push(r.error.message);
      cache = cache === 'miss' || r.cache === 'miss' ? 'miss' : cache === 'stale' || r.cache === 'stale' ? 'stale' : 'hit';
    }
    // Every local CRL goes in, not only the relevant ones: a separate CRL signer or an indirect
    // CRL issuer has its own revocation status checked against them (PKITS 4.4.19, 4.14.28-33).
    // The CRLs were looked up above as always (refreshes start, errors count); only the RFC 5280
    // evaluation is remembered, for the same certificates, the same CRL objects (a refreshed CRL
    // is a new object) and a time inside the span where no validity date of them changes it.
    const crls = downloaded.length ? [...local, ...downloaded] : local;
    const result = crlResults.evaluate({ cert, issuer, crls, at, gracePeriodMs: config.crl.gracePeriod, candidateSigners: chain, anchors: [anchor] });
    if (result.status !== 'unknown') return { kind: 'answer', status: result.status, reason: result.status === 'revoked' ? result.reason : undefined, source: urls[0] ?? 'local CRL', cache: urls.length ? cache : undefined };
    const errors = [...fetchErrors, ...result.errors];
    if (result.invalid) return { kind: 'error', errors, invalid: true, cache };
    if (fetchErrors.length || downloaded.length || relevantLocal) return { kind: 'error', errors, invalid: false, cache };
    return { kind: 'none', errors };
  }

  async function viaOcsp(cert: CertInfo, issuer: CertInfo, at: Date, noFetch: boolean): Promise<MethodOutcome> {
    const urls = httpUrls(cert.ocspUrls);
    if (urls.length === 0) return { kind: 'none', errors: ['no OCSP responder URL (Authority Information Access)'] };
    // The cache key names the certificate whatever hash the requests end up using.
    const key = certIdKey(certIdFor(cert, issuer, 'sha1'));
    const t = at.getTime();
    const cached = ocspCache.get(key, t);
    if (cached) {
      if ('answer' in cached) return cached.answer.status === 'unknown' ? { kind: 'error', errors: ['the OCSP responder does not know this certificate (cached)'], invalid: false, cache: 'hit' } : { kind: 'answer', status: cached.answer.status, reason: cached.answer.reason, source: urls[0], cache: 'hit' };
      return { kind: 'error', errors: [`${cached.error} (cached)`], invalid: cached.invalid, cache: 'hit' };
    }
    if (noFetch) return { kind: 'none', errors: ['OCSP not asked (fetching is off)'] };
    const url = urls[0]!;
    try {
      const query = () =>
        queryOcsp(cert, issuer, url, {
          method: ocspMethod,
          hash: ocspHash,
          nonce: options.ocspNonce !== false,
          timeoutMs: config.ocsp.timeout,
          maxBytes: Math.min(maxBytes, 1024 * 1024),
          fetch: options.fetch,
          now,
          maxAgeMs: config.ocsp.cacheTtl,
          responders,
          onRequest: () => void stats.ocspRequests++,
        }).catch((err: unknown) => {
          // Inside the single flight: once per query, not once per waiting check.
          faults.report({ method: 'ocsp', url, code: (err as { code?: string }).code ?? 'ERR_REVOCATION_FETCH', message: (err as Error).message });
          throw err;
        });
      // Several nodes: the engine's lock (cluster-wide, workers included); workers of one node: theirs.
      const workers = options.shared;
      const answer = await ocspFlight.run(
        key,
        clusterOcsp
          ? () => clusterOcsp.answer(key, query)
          : workers
          ? () =>
              workers.exclusive(`ocsp:${key}`, async () => {
                // Asked by another process while this one waited: its answer is here already.
                const c = ocspCache.get(key, now().getTime());
                if (c && 'answer' in c) return c.answer;
                const a = await query();
                const at = now().getTime();
                ocspCache.putAnswer(key, a, at);
                await workers.publish({ kind: 'ocsp', key, answer: a, at });
                return a;
              })
          : query,
      );
      ocspCache.putAnswer(key, answer, now().getTime());
      if (answer.status === 'unknown') return { kind: 'error', errors: ['the OCSP responder does not know this certificate'], invalid: false, cache: 'miss' };
      return { kind: 'answer', status: answer.status, reason: answer.reason, source: url, cache: 'miss' };
    } catch (err) {
      const invalid = err instanceof OcspFailure && err.kind === 'invalid';
      const message = (err as Error).message;
      ocspCache.putError(key, message, invalid, now().getTime());
      return { kind: 'error', errors: [message], invalid, cache: 'miss' };
    }
  }

  async function checkOne(cert: CertInfo, issuer: CertInfo, chain: CertInfo[], anchor: CertInfo, at: Date, noFetch: boolean): Promise<CertificateVerdict & { allowedAlone: boolean }> {
    const t0 = performance.now();
    const base = { subject: cert.subject, serialHex: cert.serialHex };
    const errors: string[] = [];
    const records = authorities.for(issuer);
    if (records) {
      try {
        const answer = await records(cert.serialHex);
        // A revocation after `at` did not apply yet then (doctor --at, check-revocation --at).
        if (answer?.status === 'revoked' && !(answer.revokedAt && answer.revokedAt.getTime() > at.getTime())) {
          return { ...base, status: 'revoked', method: 'authority', reason: answer.reason, source: 'local CA records', ms: performance.now() - t0, errors, allowedAlone: false };
        }
        if (answer) return { ...base, status: 'good', method: 'authority', source: 'local CA records', ms: performance.now() - t0, errors, allowedAlone: true };
      } catch (err) {
        // The records cannot be read: CRL and OCSP still answer, and the failure modes after them.
        errors.push(`authority: ${(err as Error).message}`);
      }
    }
    const failed: Array<{ mode: 'fail-open' | 'fail-closed'; invalid: boolean }> = [];
    const methods: Array<['crl' | 'ocsp', () => Promise<MethodOutcome>, 'fail-open' | 'fail-closed']> = [];
    if (config.crl.enabled) methods.push(['crl', () => viaCrl(cert, issuer, chain, anchor, at, noFetch), config.crl.failureMode]);
    if (config.ocsp.enabled && !cert.hasOcspNoCheck) methods.push(['ocsp', () => viaOcsp(cert, issuer, at, noFetch), config.ocsp.failureMode]);
    let lastCache: CertificateVerdict['cache'];
    for (const [method, run, mode] of methods) {
      const r = await run();
      if (r.kind === 'answer') {
        return { ...base, status: r.status, method, reason: r.reason, source: r.source, cache: r.cache, ms: performance.now() - t0, errors, allowedAlone: r.status === 'good' };
      }
      errors.push(...r.errors.map((e) => `${method}: ${e}`));
      if (r.kind === 'error') {
        failed.push({ mode, invalid: r.invalid });
        lastCache = r.cache ?? lastCache;
      }
    }
    // No method answered. A response that failed verification is never accepted; errors of a
    // method are accepted only if that method is fail-open; when nothing could be asked at all,
    // the global failure mode decides.
    const allowedAlone = failed.some((f) => f.invalid) ? false : failed.length ? failed.every((f) => f.mode === 'fail-open') : config.failureMode === 'fail-open';
    return { ...base, status: 'unknown', cache: lastCache, ms: performance.now() - t0, errors, allowedAlone };
  }

  return {
    stats,
    async check(input, opts = {}) {
      if (closed) throw new RevocationError('ERR_REVOCATION_INPUT', 'the checker is closed');
      const chain = normalizeChain(input, parsed);
      if (chain.length < 2) throw new RevocationError('ERR_REVOCATION_INPUT', 'the chain needs the certificate and its issuer (up to the trust anchor)');
      const at = opts.at ?? now();
      const anchor = chain[chain.length - 1]!;
      for (let i = 0; i < chain.length - 1; i++) {
        if (!issuedByMemo(chain[i]!, chain[i + 1]!)) throw new RevocationError('ERR_REVOCATION_INPUT', `${chain[i]!.subject} is not issued by the next certificate of the chain (${chain[i + 1]!.subject}); give the chain leaf first, in order`);
      }
      const signers = opts.crlSigners?.length ? [...chain, ...normalizeChain(opts.crlSigners, parsed)] : chain;
      const results = await Promise.all(chain.slice(0, -1).map((cert, i) => checkOne(cert, chain[i + 1]!, signers, anchor, at, opts.noFetch === true)));
      const status: Status = results.some((r) => r.status === 'revoked') ? 'revoked' : results.some((r) => r.status === 'unknown') ? 'unknown' : 'good';
      const allowed = status !== 'revoked' && results.every((r) => r.allowedAlone);
      options.logger?.debug?.({ status, allowed, certificates: results.length }, 'revocation check');
      return { status, allowed, certificates: results.map(({ allowedAlone: _, ...r }) => r) };
    },
    async close() {
      closed = true;
      // Stored CRLs read from the store's map are given back before the store may be closed.
      await crlCache.close();
    },
  };
}

/** One line for logs and the CLI. */
export function summarizeVerdict(v: RevocationVerdict): string {
  return `${v.status}${v.allowed ? '' : ' (rejected)'}: ${v.certificates.map((c) => `${c.subject}=${c.status}${c.method ? ` via ${c.method}` : ''}${c.reason ? ` (${c.reason})` : ''}`).join('; ')}`;
}
