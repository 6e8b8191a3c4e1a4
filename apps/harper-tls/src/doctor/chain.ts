import type { X509Certificate } from 'node:crypto';
import { dayCount, isoTime, issuerOf, subjectOf, type Report } from './report.js';

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

/**
 * The path the server would build: leaf, then certificates from the --cert file, up to a trusted
 * CA. Same rule as @harper-tls/mtls-auth's verifyClientChain (`child.checkIssued(parent)` and a
 * verified signature), kept here so the doctor can say where the path breaks.
 */
export function buildPath(leaf: X509Certificate, presented: readonly X509Certificate[], trusted: readonly X509Certificate[]): { path: X509Certificate[]; anchor?: X509Certificate } {
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const anchor = trusted.find((t) => current.checkIssued(t) && current.verify(t.publicKey));
    if (anchor) return { path, anchor };
    const next = presented.find((p) => !path.includes(p) && current.checkIssued(p) && current.verify(p.publicKey));
    if (!next) return { path };
    path.push(next);
    current = next;
  }
  return { path };
}

/** Why the path ends where it does, in words an operator can act on. */
function untrustedReason(last: X509Certificate, trusted: readonly X509Certificate[], hadIntermediates: boolean): string {
  if (trusted.some((t) => t.subject === last.issuer)) {
    return `its issuer "${issuerOf(last)}" has the name of a trusted CA but not its key: the CA was regenerated (renew-certs --ca) after this certificate was issued, or another CA uses the same name`;
  }
  if (last.checkIssued(last)) return `it ends in the self-signed "${subjectOf(last)}", which this listener does not trust`;
  const hint = hadIntermediates ? '' : ' (if it has intermediate CAs, append them to the --cert file after the certificate)';
  return `its issuer "${issuerOf(last)}" is not a CA this listener trusts${hint}`;
}

export interface ChainInput {
  leaf: X509Certificate;
  presented: readonly X509Certificate[];
  trusted: readonly X509Certificate[];
  /** Where a trusted CA comes from, for the report ("tls.certificateAuthority", "added at run time ..."). */
  origin(ca: X509Certificate): string;
  /** The config key to set when nothing is trusted. */
  caKey: string;
  servername?: string;
  /** The time validity is judged at: now, or `at`. */
  now: Date;
  /** `--at`, when given (the wording then names the date instead of "now"). */
  at?: Date;
}

/**
 * What the TLS layer (mTLS required) or the authenticator checks first: trust, CA flags,
 * validity of every certificate of the path, and clientAuth in the extended key usage.
 */
export function checkChain(report: Report, input: ChainInput): { path: X509Certificate[]; anchor?: X509Certificate } {
  const { leaf, presented, trusted, now } = input;
  const { path, anchor } = buildPath(leaf, presented, trusted);
  if (trusted.length === 0) report.fail('chain', `trust: this listener trusts no CA for client certificates (set ${input.caKey}, or add one with add_certificate is_authority: true)`);
  else if (!anchor) {
    report.fail('chain', `trust: not issued by a trusted CA: ${untrustedReason(path[path.length - 1]!, trusted, presented.length > 0)}`, 'the certificate does not chain to a CA this listener trusts');
    report.say('info', `trusted CAs${input.servername ? ` for servername ${input.servername}` : ''}: ${trusted.map((t) => `"${subjectOf(t)}" (${input.origin(t)})`).join('; ')}`);
  } else {
    report.say('ok', `trust: ${[...path, anchor].map((c) => `"${subjectOf(c)}"`).join(' → ')} (trusted: ${input.origin(anchor)})`);
    for (const c of [...path.slice(1), anchor]) if (!c.ca) report.fail('chain', `trust: the issuer "${subjectOf(c)}" is not a CA (basicConstraints CA:TRUE is missing)`);
  }

  let valid = true;
  const when = input.at ? isoTime(input.at) : undefined;
  for (const c of anchor ? [...path, anchor] : path) {
    const from = new Date(c.validFrom);
    const to = new Date(c.validTo);
    const who = c === leaf ? 'the certificate' : `its issuer "${subjectOf(c)}"`;
    if (now < from) {
      valid = false;
      const gap = dayCount(from.getTime() - now.getTime());
      report.fail('chain', when ? `validity: ${who} is not valid yet on ${when}: from ${isoTime(from)} (${gap} later)` : `validity: ${who} is not valid yet: from ${isoTime(from)} (in ${gap}; is a clock wrong?)`, `${who} is not valid yet`);
    } else if (now > to) {
      valid = false;
      const gap = dayCount(now.getTime() - to.getTime());
      report.fail('chain', `validity: ${who} expired on ${isoTime(to)} (${gap} ${when ? `before ${when}` : 'ago'})`, `${who} has expired`);
    }
  }
  const leafTo = new Date(leaf.validTo);
  const left = dayCount(leafTo.getTime() - now.getTime());
  if (valid) report.say('ok', `validity: valid ${when ? `on ${when}` : 'now'}, until ${isoTime(leafTo)} (${left} left${when ? ' then' : ''})${anchor ? '; its issuers too' : ''}`);

  const eku = leaf.keyUsage;
  const names = (eku ?? []).map((o) => EKU_NAMES[o] ?? o).join(', ');
  if (eku && eku.length && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) {
    const hint = eku.includes('1.3.6.1.5.5.7.3.1') ? ' (a server certificate? issue one with harper-tls cert issue, without --server)' : '';
    report.fail('chain', `key usage: the extended key usage is ${names}, without clientAuth: this is not a client certificate${hint}`, 'the certificate is not for client authentication (extended key usage)');
  } else report.say('ok', eku && eku.length ? `key usage: ${names}, so client authentication is allowed` : 'key usage: no extended key usage, so client authentication is allowed');
  return { path, anchor };
}
