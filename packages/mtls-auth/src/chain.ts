import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { chainConstraintProblem, type CertInfo } from '@harper-tls/revocation';
import { readCertificateFacts, type CertificateFacts } from './cert-cache.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

/**
 * The peer's certificates as Node hands them: leaf first, walking `issuerCertificate` until it
 * repeats. `getPeerX509Certificate()` gives ready X509Certificate objects (a few µs per step)
 * where `getPeerCertificate(true)` + `new X509Certificate(raw)` re-parses each (~150 µs).
 */
export function peerChainFromSocket(socket: TLSSocket): X509Certificate[] {
  if (typeof socket.getPeerX509Certificate === 'function') {
    const out: X509Certificate[] = [];
    const seen = new Set<string>();
    let cur: X509Certificate | undefined = socket.getPeerX509Certificate();
    while (cur && out.length < 10) {
      const fp: string = cur.fingerprint256;
      if (seen.has(fp)) break;
      seen.add(fp);
      out.push(cur);
      cur = cur.issuerCertificate;
    }
    return out;
  }
  const first = socket.getPeerCertificate(true) as PeerCertificate & { issuerCertificate?: PeerCertificate };
  if (!first || !first.raw) return [];
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let cur: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = first;
  while (cur?.raw && !seen.has(cur.fingerprint256) && out.length < 10) {
    seen.add(cur.fingerprint256);
    out.push(new X509Certificate(cur.raw));
    cur = cur.issuerCertificate as typeof cur;
  }
  return out;
}

export type ChainResult = { ok: true; path: X509Certificate[]; anchor: X509Certificate } | { ok: false; reason: string };

/**
 * Verifies the client chain ourselves against `trusted`: signatures, validity at `now` for every
 * certificate, CA flags on issuers, clientAuth on the leaf when it has an EKU, and what a
 * handshake checks beyond that (chainConstraintProblem of @harper-tls/revocation: no unhandled
 * critical extension, keyCertSign on issuers with keyUsage, pathLenConstraint, nameConstraints).
 * Needed because with `required: false` the TLS layer accepts any certificate, a forwarded
 * certificate had no handshake here, and a resumed session carries the certificate of its first
 * handshake, possibly from another listener or trust store.
 */
export function verifyClientChain(
  presented: readonly X509Certificate[],
  trusted: readonly X509Certificate[],
  now: Date,
  /** "was `cert` issued and signed by `issuer`"; default checkIssued + verify (the authenticator passes a memoized one). */
  issued: (cert: X509Certificate, issuer: X509Certificate) => boolean = (c, i) => c.checkIssued(i) && c.verify(i.publicKey),
  /** What is read of each certificate; default straight from it (the authenticator passes a memoized one). */
  facts: (cert: X509Certificate) => CertificateFacts = readCertificateFacts,
): ChainResult {
  const leaf = presented[0];
  if (!leaf) return { ok: false, reason: 'no client certificate' };
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const anchor = trusted.find((t) => issued(current, t));
    if (anchor) {
      // Dates against `now` on every call; only the dates themselves may be remembered.
      const t = now.getTime();
      for (const c of [...path, anchor]) {
        const f = facts(c);
        if (t < f.notBefore) return { ok: false, reason: `certificate ${f.subject.replace(/\n/g, ', ')} is not valid yet` };
        if (t > f.notAfter) return { ok: false, reason: `certificate ${f.subject.replace(/\n/g, ', ')} has expired` };
      }
      for (const c of [...path.slice(1), anchor]) if (!facts(c).ca) return { ok: false, reason: `issuer ${facts(c).subject.replace(/\n/g, ', ')} is not a CA` };
      const eku = facts(leaf).keyUsage;
      if (eku && eku.length && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) return { ok: false, reason: 'the certificate is not for client authentication (extended key usage)' };
      const infos: CertInfo[] = [];
      for (const c of [...path, anchor]) {
        const p = facts(c).parsed;
        if ('error' in p) return { ok: false, reason: `certificate ${facts(c).subject.replace(/\n/g, ', ')} cannot be read: ${p.error}` };
        infos.push(p);
      }
      const problem = chainConstraintProblem(infos);
      if (problem) return { ok: false, reason: problem };
      return { ok: true, path, anchor };
    }
    const next = presented.find((p) => !path.includes(p) && issued(current, p));
    if (!next) return { ok: false, reason: 'the certificate does not chain to a trusted CA' };
    path.push(next);
    current = next;
  }
  return { ok: false, reason: 'the certificate chain is too long' };
}
