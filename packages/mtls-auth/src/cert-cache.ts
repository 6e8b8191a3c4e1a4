import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { parseCertificate, type CertInfo } from '@harper-tls/revocation';
import { usernameFromCertificate } from './identity.js';

/** What verifyClientChain reads of a certificate; a pure function of its DER. */
export interface CertificateFacts {
  notBefore: number;
  notAfter: number;
  ca: boolean;
  keyUsage: string[] | undefined;
  subject: string;
  /** The extensions read from the DER (basicConstraints, keyUsage, nameConstraints, SANs, ...), or why they cannot be read. */
  parsed: CertInfo | { error: string };
}

/** A certificate's facts, straight from it. */
export function readCertificateFacts(cert: X509Certificate): CertificateFacts {
  let parsed: CertificateFacts['parsed'];
  try {
    parsed = parseCertificate(new Uint8Array(cert.raw));
  } catch (err) {
    parsed = { error: (err as Error).message };
  }
  return { notBefore: new Date(cert.validFrom).getTime(), notAfter: new Date(cert.validTo).getTime(), ca: cert.ca, keyUsage: cert.keyUsage, subject: cert.subject, parsed };
}

/**
 * Parsed client certificates and signature checks, remembered across connections. With
 * OpenSSL 3.0 `new X509Certificate(der)` costs ~120 µs and `socket.getPeerX509Certificate()`
 * about the same, while `socket.getPeerCertificate()` costs ~20 µs and carries the DER and its
 * SHA-256 fingerprint; clients reconnect with the same certificate, so the parsed object is
 * looked up by that fingerprint. Both maps are bounded (oldest dropped first).
 */
export class CertificateCache {
  readonly #max: number;
  readonly #parsed = new Map<string, X509Certificate>();
  readonly #issued = new Map<string, boolean>();
  readonly #fingerprints = new WeakMap<X509Certificate, string>();
  readonly #der = new WeakMap<X509Certificate, Uint8Array>();
  readonly #cn = new WeakMap<X509Certificate, string | undefined>();
  readonly #facts = new WeakMap<X509Certificate, CertificateFacts>();

  /** @param max entries per map; default 1024. */
  constructor(max = 1024) {
    this.#max = max;
  }

  /** The peer's leaf certificate as an X509Certificate (parsed once per distinct certificate), or undefined. */
  leafOf(socket: TLSSocket): X509Certificate | undefined {
    const peer = socket.getPeerCertificate(false) as PeerCertificate | undefined;
    if (!peer || !peer.raw || !peer.fingerprint256) return undefined;
    const fp = peer.fingerprint256;
    let cert = this.#parsed.get(fp);
    if (cert) return cert;
    cert = new X509Certificate(peer.raw);
    this.#fingerprints.set(cert, fp);
    this.#remember(this.#parsed, fp, cert);
    return cert;
  }

  fingerprint(cert: X509Certificate): string {
    let fp = this.#fingerprints.get(cert);
    if (fp === undefined) {
      fp = cert.fingerprint256;
      this.#fingerprints.set(cert, fp);
    }
    return fp;
  }

  /** The certificate's DER (one copy per X509Certificate, not per connection). */
  der(cert: X509Certificate): Uint8Array {
    let d = this.#der.get(cert);
    if (!d) {
      d = new Uint8Array(cert.raw);
      this.#der.set(cert, d);
    }
    return d;
  }

  /** `usernameFromCertificate(der)` (the subject's single CN), remembered per certificate: it depends on the DER alone. */
  commonName(cert: X509Certificate): string | undefined {
    if (this.#cn.has(cert)) return this.#cn.get(cert);
    const cn = usernameFromCertificate(this.der(cert));
    this.#cn.set(cert, cn);
    return cn;
  }

  /** Validity dates (ms), CA flag and extended key usages, read once per certificate (each is a native call and a parse). */
  readonly facts = (cert: X509Certificate): CertificateFacts => {
    let f = this.#facts.get(cert);
    if (!f) {
      f = readCertificateFacts(cert);
      this.#facts.set(cert, f);
    }
    return f;
  };

  /**
   * `cert.checkIssued(issuer) && cert.verify(issuer.publicKey)`, remembered per (certificate,
   * issuer) pair: both are pure functions of the two DER encodings. Validity dates are not part
   * of it; the caller checks them on every use.
   */
  readonly issued = (cert: X509Certificate, issuer: X509Certificate): boolean => {
    const key = `${this.fingerprint(cert)}>${this.fingerprint(issuer)}`;
    let ok = this.#issued.get(key);
    if (ok === undefined) {
      ok = cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
      this.#remember(this.#issued, key, ok);
    }
    return ok;
  };

  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= this.#max) map.delete(map.keys().next().value!);
    map.set(key, value);
  }
}
