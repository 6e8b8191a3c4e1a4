import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateVerificationConfig, HarperConfig } from '@harper-tls/config';
import { createLocalCa, normalizeSerialHex, type LocalCaStore } from '@harper-tls/cert-gen';
import { createRevocationChecker, type RevocationStore, type RevocationVerdict } from '@harper-tls/revocation';
import { loadAutoCa, localCaUrls } from '@harper-tls/server';
import { progressFetch, type FetchLike, type Progress } from '../progress.js';
import { isoTime, type Report } from './report.js';

export interface RevocationInput {
  config: HarperConfig;
  verification: CertificateVerificationConfig;
  /** The local CA's records and the revocation cache (read only): the node's lmdb, or the cluster engine's. */
  localCaStore?: LocalCaStore;
  revocationStore?: RevocationStore;
  path: X509Certificate[];
  anchor: X509Certificate;
  progress: Progress;
  /** `--at`: judge as of this time instead of now. */
  at?: Date;
}

/** A CRL that exists but does not cover the time asked about (made after it, or expired by then). */
const OUTSIDE_WINDOW = /CRL from .* (is not valid until \S+|expired at \S+ \(nextUpdate\))/;

/**
 * The server's revocation check, with the server's settings and its CRL cache (read only), and
 * the source of each answer. For a certificate of the local CA, its record is shown as well.
 */
export async function checkRevocation(report: Report, input: RevocationInput): Promise<void> {
  const { config, localCaStore, path, anchor } = input;
  const store = input.revocationStore;
  const offline: string[] = [];
  const localCa = openLocalCaReadOnly(config, localCaStore);
  const fetch = progressFetch(input.progress, ownEndpointsOffline(config, localCa, offline));
  // As in the server: the local CA's records answer for its own certificates, before any CRL.
  const authorities = localCa ? [{ certificate: localCa.certificatePem, status: (serial: string) => localCa.ca.status(serial) }] : [];
  const checker = createRevocationChecker({ config: input.verification, store, fetch, authorities });
  const chain = [...path, anchor].map((c) => new Uint8Array(c.raw));
  let verdict: RevocationVerdict;
  let current = false;
  try {
    verdict = await checker.check(chain, { at: input.at });
    // The CRLs at hand are today's: one made now is not valid last week, and it has expired by next
    // month. The server would then have used the CRL of that time, which cannot be seen from here,
    // so the best answer is today's status, said as such (a revocation is not undone, and one
    // after today cannot be known).
    const outside = input.at ? verdict.certificates.flatMap((c) => (c.status === 'unknown' ? c.errors.filter((e) => OUTSIDE_WINDOW.test(e)) : [])) : [];
    if (input.at && outside.length) {
      const when = isoTime(input.at);
      const later = input.at.getTime() > Date.now();
      report.say('info', `revocation on ${when}: no CRL at hand covers that time (${[...new Set(outside.map((e) => e.replace(/^crl: /, '')))].join('; ')}); the server would then use the CRL of that time, which cannot be seen now, so the status below is today's${later ? ` (a revocation between now and ${when} cannot be known)` : ` (a certificate revoked today may still have been good on ${when})`}`);
      verdict = await checker.check(chain);
      current = true;
    }
  } finally {
    await checker.close();
  }
  explain(report, verdict, config, current);
  for (const url of new Set(offline)) report.say('info', `the server is not running, so ${url} was answered from the local CA's records, as the server would answer it`);
  const record = await localCaRecord(localCaStore, config, anchor, path[0]!);
  if (record) report.say('info', record);
}

function explain(report: Report, verdict: RevocationVerdict, config: HarperConfig, current: boolean): void {
  const own = localCaUrls(config);
  for (const c of verdict.certificates) {
    const how = c.method === 'authority' ? '' : c.cache === 'hit' ? "from the server's cache" : c.cache === 'stale' ? "from the server's cache, past its nextUpdate (grace period)" : c.method ? 'fetched now' : '';
    const source = c.method === 'authority' ? "the local CA's records (authoritative for its own certificates)" : [c.method?.toUpperCase(), c.source, how].filter(Boolean).join(' ');
    const text = `revocation: "${c.subject}" is ${c.status}${c.reason ? ` (${c.reason})` : ''}${current ? ' as of now' : ''}${source ? ` — ${source}` : ''}`;
    const errors = c.errors.map((e) => {
      const ownUrl = [own.crlUrl, own.ocspUrl].find((u) => u && e.includes(u));
      return ownUrl && /ECONNREFUSED|did not answer/.test(e) ? `${e} (this server's own endpoint: is the server running?)` : e;
    });
    const detail = errors.length ? `: ${errors.join('; ')}` : '';
    if (c.status === 'revoked') report.fail('revocation', text, `the certificate "${c.subject}" is revoked${c.reason ? ` (${c.reason})` : ''}`);
    else if (c.status === 'unknown' && !verdict.allowed) report.fail('revocation', `${text}${detail}; certificateVerification is fail-closed, so unknown means rejected`, `the revocation status of "${c.subject}" cannot be determined (fail-closed)`);
    else if (c.status === 'unknown') report.say('ok', `${text}${detail}; allowed because the failure mode is fail-open`);
    else report.say('ok', text);
  }
}

const causeOf = (err: unknown) => (err as { cause?: { code?: string; errors?: Array<{ code?: string }> } }).cause;

/**
 * The fetch for the doctor's revocation check. The local CA's CRL and OCSP URLs point at this
 * server; when it is not running, the answer it would give is made here from the local CA's
 * records (signed with its key, nothing stored), so the doctor can explain a certificate of the
 * local CA with the server stopped. Any other URL, or a server that answers, goes to the network.
 */
function ownEndpointsOffline(config: HarperConfig, local: ReadOnlyLocalCa | undefined, used: string[]): FetchLike {
  const real = globalThis.fetch as unknown as FetchLike;
  const own = localCaUrls(config);
  if (!local || (!own.crlUrl && !own.ocspUrl)) return real;
  const localCa = local.ca;
  // A kept-alive connection to a server that has since stopped fails once with UND_ERR_SOCKET.
  const once: FetchLike = async (url, init) => {
    try {
      return await real(url, init);
    } catch (err) {
      if (causeOf(err)?.code === 'UND_ERR_SOCKET') return real(url, init);
      throw err;
    }
  };
  return async (url, init) => {
    try {
      return await once(url, init);
    } catch (err) {
      const cause = causeOf(err);
      const refused = cause?.code === 'ECONNREFUSED' || (cause?.errors ?? []).some((e) => e.code === 'ECONNREFUSED');
      if (!refused) throw err;
      if (url === own.crlUrl && (init.method ?? 'GET') === 'GET') {
        used.push(url);
        return new Response(new Uint8Array(await localCa.crl()), { headers: { 'content-type': 'application/pkix-crl' } });
      }
      if (url === own.ocspUrl && init.method === 'POST' && init.body) {
        used.push(url);
        return new Response(new Uint8Array(await localCa.ocspResponder(init.body)), { headers: { 'content-type': 'application/ocsp-response' } });
      }
      throw err;
    }
  };
}

type ReadOnlyLocalCa = { ca: ReturnType<typeof createLocalCa>; certificatePem: string };

/** The server's local CA over its records, read only (nothing is signed into the store). */
function openLocalCaReadOnly(config: HarperConfig, store: LocalCaStore | undefined): ReadOnlyLocalCa | undefined {
  const auto = store ? loadAutoCa(config.rootPath, { readOnly: true }) : undefined;
  if (!store || !auto) return undefined;
  return { ca: createLocalCa({ ca: auto, store, ...localCaUrls(config) }), certificatePem: auto.certificatePem };
}

/** For a certificate of the server's own CA, what `harper-tls cert list` knows about it. */
async function localCaRecord(store: LocalCaStore | undefined, config: HarperConfig, anchor: X509Certificate, leaf: X509Certificate): Promise<string | undefined> {
  const caFile = join(config.rootPath, 'keys', 'ca.pem');
  if (!store || !existsSync(caFile)) return undefined;
  try {
    if (new X509Certificate(readFileSync(caFile)).fingerprint256 !== anchor.fingerprint256) return undefined;
  } catch {
    return undefined;
  }
  const text = await store.get(`issued:${normalizeSerialHex(leaf.serialNumber)}`);
  if (!text) return `local CA: serial ${leaf.serialNumber.toLowerCase()} is not in its records (not issued by harper-tls cert issue)`;
  const r = JSON.parse(text) as { status: string; revokedAt?: string; reason?: string; issuedAt: string };
  return r.status === 'revoked' ? `local CA: revoked on ${r.revokedAt}${r.reason ? ` (${r.reason})` : ''} (harper-tls cert list)` : `local CA: issued on ${r.issuedAt}, not revoked (harper-tls cert list)`;
}
