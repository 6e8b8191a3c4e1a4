import { X509Certificate as NodeX509 } from 'node:crypto';
import { issueCertificate, type KeyAndCert } from './certificate.js';
import { createCrl, checkReason, type RevocationReason } from './crl.js';
import { createOcspResponder, type CertStatus, type OcspResponder } from './ocsp-responder.js';
import { CertGenError, invalid } from './errors.js';
import type { KeyType } from './keys.js';
import { normalizeSerialHex } from './serial.js';

/** Where the local CA keeps its records: the server's lmdb, or memory. Values are JSON text. */
export interface LocalCaStore {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  list(prefix: string): Promise<Array<[string, string]>>;
  /**
   * Shared stores (several nodes, SPEC.md section 10) add these: an insert that fails when the key
   * exists (the uniqueness constraint for serials), an atomic increment (revision, CRL number) and
   * a cluster-wide lock (one CRL built at a time, stored, and served by every node).
   */
  create?(key: string, value: string): Promise<boolean>;
  increment?(key: string): Promise<string>;
  /** `value` at `key` and the increment of `counter` in one commit (a revocation and the revision it makes). */
  putAndIncrement?(key: string, value: string, counter: string): Promise<string>;
  lock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface IssuedRecord {
  serialHex: string;
  cn: string;
  kind: 'client' | 'server';
  issuedAt: string;
  notAfter: string;
  status: 'good' | 'revoked' | 'expired';
  revokedAt?: string;
  reason?: RevocationReason;
}

/**
 * A stored record as this version reads it. Earlier versions accepted `removeFromCRL` as a
 * revocation reason, which on a CRL means "no longer revoked" (RFC 5280 section 5.3.1): such a
 * record was meant as a revocation, so it is read as one without a reason (unspecified).
 */
function readIssuedRecord(text: string): IssuedRecord {
  const r = JSON.parse(text) as IssuedRecord;
  if ((r.reason as string | undefined) === 'removeFromCRL') delete r.reason;
  return r;
}

/** A Map-backed store, for tests and for users who do not need persistence. */
export function createMemoryLocalCaStore(): LocalCaStore {
  const map = new Map<string, string>();
  return {
    get: async (k) => map.get(k),
    put: async (k, v) => void map.set(k, v),
    list: async (prefix) => [...map].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)),
  };
}

const ISSUED = 'issued:';
const VERSION = 'meta:version';
const CRL_NUMBER = 'meta:crlNumber';
/** The CRL a shared store keeps (JSON {version, signedAt, der: base64}): the same bytes on every node. */
const SHARED_CRL = 'meta:crl';
/** How often an issue draws a new serial after a collision before giving up (2^-128 each). */
const SERIAL_ATTEMPTS = 3;
/** A CRL is valid for a day (nextUpdate) and re-signed after half of that, or at once after a revocation. */
export const CRL_VALIDITY_MS = 86_400_000;

/**
 * The server's local CA: issues client (and server) certificates that carry this server's CRL
 * and OCSP URLs, revokes them, and answers for them through a signed CRL and an OCSP responder.
 * Records live in `store`, so several processes (the server, `harper-tls cert ...`) agree.
 */
export function createLocalCa(opts: { ca: Pick<KeyAndCert, 'certificatePem' | 'privateKeyPem'>; store: LocalCaStore; crlUrl?: string; ocspUrl?: string; now?: () => Date }) {
  const { store } = opts;
  const now = opts.now ?? (() => new Date());
  const caCert = new NodeX509(opts.ca.certificatePem);
  let cached: { version: string; der: Uint8Array; signedAt: number } | undefined;
  let sharedCache: { b64: string; der: Uint8Array } | undefined;

  const record = async (serialHex: string): Promise<IssuedRecord | undefined> => {
    const text = await store.get(ISSUED + serialHex);
    return text ? readIssuedRecord(text) : undefined;
  };
  const withExpiry = (r: IssuedRecord): IssuedRecord => (r.status === 'good' && new Date(r.notAfter) < now() ? { ...r, status: 'expired' } : r);
  const bumpVersion = async () => (store.increment ? void (await store.increment(VERSION)) : store.put(VERSION, String(Number((await store.get(VERSION)) ?? '0') + 1)));

  const ocspResponder: OcspResponder = createOcspResponder({
    issuer: opts.ca,
    now,
    lookup: async (serialHex): Promise<CertStatus> => {
      const r = await record(serialHex);
      if (!r) return { status: 'unknown' };
      if (r.status === 'revoked') return { status: 'revoked', revokedAt: new Date(r.revokedAt!), reason: r.reason };
      return { status: 'good' };
    },
  });

  return {
    /** Issues a certificate: clientAuth by default (`server: true` for serverAuth), CN = `cn`. */
    async issue(input: { cn: string; days?: number; sans?: string[]; server?: boolean; keyType?: KeyType }): Promise<KeyAndCert> {
      const kind = input.server ? 'server' : 'client';
      for (let attempt = 1; ; attempt++) {
        const cert = await issueCertificate({ ca: opts.ca as KeyAndCert, kind, commonName: input.cn, days: input.days, sans: input.sans, keyType: input.keyType, crlUrl: opts.crlUrl, ocspUrl: opts.ocspUrl, now });
        const notAfter = new Date(new NodeX509(cert.certificatePem).validTo).toISOString();
        const rec: IssuedRecord = { serialHex: normalizeSerialHex(cert.serialHex), cn: input.cn, kind, issuedAt: now().toISOString(), notAfter, status: 'good' };
        if (!store.create) {
          await store.put(ISSUED + rec.serialHex, JSON.stringify(rec));
          return cert;
        }
        // A shared store: the serial's record is inserted only if no node used that serial.
        if (await store.create(ISSUED + rec.serialHex, JSON.stringify(rec))) return cert;
        if (attempt >= SERIAL_ATTEMPTS) throw new CertGenError('ERR_CERTGEN_SERIAL_COLLISION', `serial ${rec.serialHex} was already used ${attempt} times in a row; the random source is broken`);
      }
    },

    /** Revokes by serial (hex) or by the certificate's PEM. Revoking twice keeps the first date. */
    async revoke(target: string, reason?: RevocationReason): Promise<IssuedRecord> {
      checkReason(reason);
      let serialHex: string;
      if (target.includes('-----BEGIN')) {
        let cert: NodeX509;
        try {
          cert = new NodeX509(target);
        } catch (err) {
          return invalid(`the certificate cannot be read (${(err as Error).message})`);
        }
        if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) {
          throw new CertGenError('ERR_CERTGEN_UNKNOWN_SERIAL', `the certificate (${cert.subject.replace(/\n/g, ', ')}) was not issued by this CA`);
        }
        serialHex = normalizeSerialHex(cert.serialNumber);
      } else serialHex = normalizeSerialHex(target);
      const r = await record(serialHex);
      if (!r) throw new CertGenError('ERR_CERTGEN_UNKNOWN_SERIAL', `no certificate with serial ${serialHex} was issued by this CA (see harper-tls cert list)`);
      if (r.status === 'revoked') {
        // A retry after a revocation whose revision was not written (a store without one commit
        // for both): the revision changes now, so the CRL is re-signed with it.
        await bumpVersion();
        return r;
      }
      const revoked: IssuedRecord = { ...r, status: 'revoked', revokedAt: now().toISOString(), reason };
      if (store.putAndIncrement) await store.putAndIncrement(ISSUED + serialHex, JSON.stringify(revoked), VERSION);
      else {
        await store.put(ISSUED + serialHex, JSON.stringify(revoked));
        await bumpVersion();
      }
      return revoked;
    },

    /**
     * What the records say of one serial, for the revocation checker's `authorities`: revoked
     * (with its date and reason) or good; undefined when this CA has no record of it.
     */
    async status(serialHex: string): Promise<{ status: 'good' } | { status: 'revoked'; reason?: RevocationReason; revokedAt: Date } | undefined> {
      const r = await record(normalizeSerialHex(serialHex));
      if (!r) return undefined;
      return r.status === 'revoked' ? { status: 'revoked', reason: r.reason, revokedAt: new Date(r.revokedAt!) } : { status: 'good' };
    },

    /** Changes with every revocation, by any process sharing the store: a cheap test for "anything revoked since?". */
    async revision(): Promise<string> {
      return (await store.get(VERSION)) ?? '0';
    },

    async list(): Promise<IssuedRecord[]> {
      return (await store.list(ISSUED)).map(([, v]) => withExpiry(readIssuedRecord(v)));
    },

    /** The current CRL (DER): re-signed after any revocation (by any process) or half its validity. */
    async crl(): Promise<Uint8Array> {
      if (store.lock && store.increment) return sharedCrl();
      const version = (await store.get(VERSION)) ?? '0';
      const at = now().getTime();
      if (cached && cached.version === version && at - cached.signedAt < CRL_VALIDITY_MS / 2) return cached.der;
      const crlNumber = BigInt((await store.get(CRL_NUMBER)) ?? '0') + 1n;
      await store.put(CRL_NUMBER, crlNumber.toString());
      const revoked = (await store.list(ISSUED))
        .map(([, v]) => readIssuedRecord(v))
        .filter((r) => r.status === 'revoked')
        .map((r) => ({ serialHex: r.serialHex, revokedAt: new Date(r.revokedAt!), reason: r.reason }));
      const der = await createCrl({ ca: opts.ca, revoked, crlNumber, thisUpdate: new Date(at), nextUpdate: new Date(at + CRL_VALIDITY_MS) });
      cached = { version, der, signedAt: at };
      return der;
    },

    ocspResponder,
  };

  /**
   * Several nodes: the CRL is built by one node at a time under the cluster-wide lock, with the
   * next CRL number, and stored; every node serves the stored bytes. When the store cannot be
   * written (the engine unreachable), the last stored CRL is served while it is valid.
   */
  async function sharedCrl(): Promise<Uint8Array> {
    const current = async () => {
      const version = (await store.get(VERSION)) ?? '0';
      const text = await store.get(SHARED_CRL);
      const stored = text ? (JSON.parse(text) as { version: string; signedAt: number; der: string }) : undefined;
      return { version, stored };
    };
    const fresh = (c: Awaited<ReturnType<typeof current>>) => c.stored !== undefined && c.stored.version === c.version && now().getTime() - c.stored.signedAt < CRL_VALIDITY_MS / 2;
    const decode = (b64: string) => {
      if (sharedCache?.b64 !== b64) sharedCache = { b64, der: new Uint8Array(Buffer.from(b64, 'base64')) };
      return sharedCache.der;
    };
    const seen = await current();
    if (fresh(seen)) return decode(seen.stored!.der);
    try {
      return await store.lock!('crl', async () => {
        const c = await current();
        if (fresh(c)) return decode(c.stored!.der);
        const crlNumber = BigInt(await store.increment!(CRL_NUMBER));
        const at = now().getTime();
        const revoked = (await store.list(ISSUED))
          .map(([, v]) => readIssuedRecord(v))
          .filter((r) => r.status === 'revoked')
          .map((r) => ({ serialHex: r.serialHex, revokedAt: new Date(r.revokedAt!), reason: r.reason }));
        const der = await createCrl({ ca: opts.ca, revoked, crlNumber, thisUpdate: new Date(at), nextUpdate: new Date(at + CRL_VALIDITY_MS) });
        const b64 = Buffer.from(der).toString('base64');
        await store.put(SHARED_CRL, JSON.stringify({ version: c.version, signedAt: at, der: b64 }));
        return decode(b64);
      });
    } catch (err) {
      const last = (await current()).stored;
      if (last && now().getTime() - last.signedAt < CRL_VALIDITY_MS) return decode(last.der);
      throw err;
    }
  }
}

export type LocalCa = ReturnType<typeof createLocalCa>;
