import type { CertInfo } from '../cert/parse.js';
import { checkCertificateWithCrls, type CrlCheckArgs, type CrlCheckResult } from './evaluate.js';
import type { ParsedCrl } from './types.js';

/** Results kept per certificate (different issuers, CRL sets or signer pools), oldest dropped first. */
const PER_CERT = 4;

interface Remembered {
  issuer: CertInfo;
  crls: number[];
  signers: CertInfo[];
  anchors: CertInfo[];
  gracePeriodMs: number;
  /** The result holds for every time strictly between these (ms). */
  after: number;
  before: number;
  result: CrlCheckResult;
}

/**
 * `checkCertificateWithCrls`, remembered. The evaluation is a pure function of the certificates,
 * the CRL objects (parsed once per download and never changed: a refreshed or re-read CRL is a
 * new object, hence a miss), the grace period, and the time `at` only through comparisons with
 * fixed dates: each CRL's thisUpdate - 5 min, nextUpdate and nextUpdate + grace, and each
 * certificate's notBefore and notAfter. Between two consecutive such dates the result cannot
 * change, so a result is reused only for a time strictly inside the span around the time it was
 * computed at (never past the CRL's nextUpdate). CRLs are held by a numeric id, not a reference:
 * a remembered result never keeps a replaced (possibly huge) CRL alive.
 */
export class CrlResultMemo {
  readonly #byCert = new WeakMap<CertInfo, Remembered[]>();
  readonly #crlIds = new WeakMap<ParsedCrl, number>();
  #nextId = 1;
  /** Evaluations answered from memory, and run; for tests. */
  hits = 0;
  misses = 0;

  #id(crl: ParsedCrl): number {
    let id = this.#crlIds.get(crl);
    if (id === undefined) this.#crlIds.set(crl, (id = this.#nextId++));
    return id;
  }

  evaluate(args: CrlCheckArgs): CrlCheckResult {
    const t = args.at.getTime();
    const list = this.#byCert.get(args.cert);
    if (list && !args.validating) {
      for (const r of list) {
        if (t > r.after && t < r.before && r.issuer === args.issuer && r.gracePeriodMs === args.gracePeriodMs && this.#same(r, args)) {
          this.hits++;
          return r.result;
        }
      }
    }
    this.misses++;
    const result = checkCertificateWithCrls(args);
    if (args.validating || !Number.isFinite(t)) return result;
    const span = spanAround(t, args);
    if (!span) return result;
    const entry: Remembered = {
      issuer: args.issuer,
      crls: args.crls.map((c) => this.#id(c)),
      signers: [...args.candidateSigners],
      anchors: [...args.anchors],
      gracePeriodMs: args.gracePeriodMs,
      after: span.after,
      before: span.before,
      result: Object.freeze(result),
    };
    // A miss means no kept span of these inputs holds `t`: the new entry never duplicates one.
    const kept = list ?? [];
    kept.push(entry);
    while (kept.length > PER_CERT) kept.shift();
    this.#byCert.set(args.cert, kept);
    return result;
  }

  #same(r: Remembered, args: CrlCheckArgs): boolean {
    if (r.crls.length !== args.crls.length || r.signers.length !== args.candidateSigners.length || r.anchors.length !== args.anchors.length) return false;
    for (let i = 0; i < r.crls.length; i++) if (this.#crlIds.get(args.crls[i]!) !== r.crls[i]) return false;
    for (let i = 0; i < r.signers.length; i++) if (r.signers[i] !== args.candidateSigners[i]) return false;
    for (let i = 0; i < r.anchors.length; i++) if (r.anchors[i] !== args.anchors[i]) return false;
    return true;
  }
}

/**
 * The open span of time around `t` in which no date the evaluation compares `at` with lies.
 * Undefined when `t` is exactly one of them (the comparison may flip right after it).
 */
export function spanAround(t: number, args: Pick<CrlCheckArgs, 'cert' | 'issuer' | 'crls' | 'candidateSigners' | 'anchors' | 'gracePeriodMs'>): { after: number; before: number } | undefined {
  let after = -Infinity;
  let before = Infinity;
  let exact = false;
  const add = (e: number) => {
    if (!Number.isFinite(e)) return;
    if (e === t) exact = true;
    else if (e < t) after = Math.max(after, e);
    else before = Math.min(before, e);
  };
  for (const crl of args.crls) {
    add(crl.thisUpdate.getTime() - 5 * 60_000);
    if (crl.nextUpdate) {
      add(crl.nextUpdate.getTime());
      add(crl.nextUpdate.getTime() + args.gracePeriodMs);
    }
  }
  for (const c of [args.cert, args.issuer, ...args.candidateSigners, ...args.anchors]) {
    add(c.notBefore.getTime());
    add(c.notAfter.getTime());
  }
  return exact ? undefined : { after, before };
}
