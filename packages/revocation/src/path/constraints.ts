import { certificateProfileProblem, type CertInfo, type NameConstraints } from '../cert/parse.js';
import type { GeneralName } from '../cert/general-names.js';
import { canonicalRdns, nameAttributes, namesEqual } from '../der/name.js';

const CN = '2.5.4.3';
const EMAIL_ADDRESS = '1.2.840.113549.1.9.1';
const IA5STRING = 0x16;

/**
 * What a TLS handshake (OpenSSL's X509_verify_cert) checks of a path beyond signatures, dates,
 * the CA flag and the purpose, or undefined when it passes. `path`: leaf first, the trust anchor
 * last. As OpenSSL does, on every certificate, the anchor included:
 * - no unhandled critical extension, no extension twice (certificateProfileProblem);
 * - an issuer with keyUsage has keyCertSign;
 * - pathLenConstraint: at most that many non-self-issued intermediates below a CA;
 * - nameConstraints (RFC 5280 section 4.2.1.10) of every CA, the anchor's included, on every
 *   certificate below it (self-issued intermediates excepted): subject DN against directoryName,
 *   subject emailAddress and rfc822Name SANs against rfc822Name, dNSName (and the leaf's CN when
 *   it looks like a host name and there is no dNSName SAN), URI hosts, iPAddress. Constraints
 *   that cannot be evaluated (minimum/maximum, other name forms) refuse the path (fail closed).
 */
export function chainConstraintProblem(path: readonly CertInfo[]): string | undefined {
  for (const c of path) {
    const p = certificateProfileProblem(c);
    if (p) return p;
  }
  let below = 0; // non-self-issued intermediates below the current certificate
  for (let i = 1; i < path.length; i++) {
    const ca = path[i]!;
    if (ca.keyUsage && !ca.keyUsage.has('keyCertSign')) return `${ca.subject} issues certificates without keyCertSign (key usage)`;
    if (i > 1 && ca.pathLen !== undefined && below > ca.pathLen) return `${ca.subject}: path length constraint exceeded (pathLenConstraint ${ca.pathLen}, ${below} intermediates below)`;
    if (!selfIssued(ca)) below++;
  }
  for (let j = 1; j < path.length; j++) {
    const nc = path[j]!.nameConstraints;
    if (!nc) continue;
    if (nc.unsupported) return `${path[j]!.subject} has name constraints that cannot be evaluated: ${nc.unsupported}`;
    for (let i = 0; i < j; i++) {
      const c = path[i]!;
      if (i > 0 && selfIssued(c)) continue;
      const why = nameProblem(c, i === 0, nc);
      if (why) return `${c.subject} violates the name constraints of ${path[j]!.subject}: ${why}`;
    }
  }
  return undefined;
}

const selfIssued = (c: CertInfo) => namesEqual(c.subjectDer, c.issuerDer);

/** OpenSSL's NAME_CONSTRAINTS_check (+ _check_CN for the leaf). */
function nameProblem(c: CertInfo, leaf: boolean, nc: NameConstraints): string | undefined {
  const names: GeneralName[] = [];
  if (canonicalRdns(c.subjectDer).length) {
    names.push({ type: 'dn', der: c.subjectDer, text: c.subject });
    for (const e of nameAttributes(c.subjectDer, EMAIL_ADDRESS)) {
      if (e.tag !== IA5STRING) return 'a subject emailAddress that is not an IA5String';
      names.push({ type: 'email', value: e.text });
    }
  }
  names.push(...c.subjectAltNames);
  if (leaf && !c.subjectAltNames.some((n) => n.type === 'dns')) {
    for (const cn of nameAttributes(c.subjectDer, CN)) if (looksLikeHostName(cn.text)) names.push({ type: 'dns', value: cn.text });
  }
  for (const n of names) {
    const why = matchProblem(n, nc);
    if (why) return why;
  }
  return undefined;
}

const label = (n: GeneralName) => (n.type === 'dn' ? `directoryName ${n.text}` : `${n.type} ${n.value}`);

/** Permitted: if any subtree of the name's form exists, one must match; excluded: none may. */
function matchProblem(n: GeneralName, nc: NameConstraints): string | undefined {
  const permitted = nc.permitted.filter((b) => b.type === n.type);
  if (permitted.length) {
    let ok = false;
    for (const b of permitted) {
      const m = matches(n, b);
      if (m === 'syntax') return `${label(n)} cannot be checked against the name constraints`;
      if (m) ok = true;
    }
    if (!ok) return `${label(n)} is not in a permitted subtree`;
  }
  for (const b of nc.excluded) {
    if (b.type !== n.type) continue;
    const m = matches(n, b);
    if (m === 'syntax') return `${label(n)} cannot be checked against the name constraints`;
    if (m) return `${label(n)} is in an excluded subtree (${label(b)})`;
  }
  return undefined;
}

const lower = (s: string) => s.toLowerCase();

function matches(n: GeneralName, base: GeneralName): boolean | 'syntax' {
  if (n.type === 'dn' && base.type === 'dn') {
    const name = canonicalRdns(n.der);
    const prefix = canonicalRdns(base.der);
    return prefix.length <= name.length && prefix.every((rdn, k) => rdn === name[k]);
  }
  if (n.type === 'dn' || base.type === 'dn') return false;
  const v = n.value;
  const b = base.value;
  switch (n.type) {
    case 'dns':
      return dnsMatches(v, b);
    case 'email':
      return emailMatches(v, b);
    case 'uri':
      return uriMatches(v, b);
    case 'ip':
      return ipMatches(v, b);
    default:
      return 'syntax';
  }
}

/** nc_dns: the base, or the base with labels added on the left. */
function dnsMatches(name: string, base: string): boolean {
  if (base.length === 0) return true;
  if (name.length < base.length) return false;
  const tail = name.slice(name.length - base.length);
  if (name.length > base.length && base[0] !== '.' && name[name.length - base.length - 1] !== '.') return false;
  return lower(tail) === lower(base);
}

/** nc_email: `.domain` (any host in it), `host` (any mailbox there) or `local@host` (that mailbox). */
function emailMatches(name: string, base: string): boolean | 'syntax' {
  if (base[0] === '.') return name.length > base.length && lower(name.slice(name.length - base.length)) === lower(base);
  const at = name.lastIndexOf('@');
  if (at < 0) return 'syntax';
  let host = base;
  const baseAt = base.indexOf('@');
  if (baseAt >= 0) {
    if (baseAt > 0 && base.slice(0, baseAt) !== name.slice(0, at)) return false; // local part: case-sensitive
    host = base.slice(baseAt + 1);
  }
  return lower(host) === lower(name.slice(at + 1));
}

/** nc_uri: the host of `scheme://host[:port][/...]`, against `.domain` or exactly `host`. */
function uriMatches(uri: string, base: string): boolean | 'syntax' {
  const colon = uri.indexOf(':');
  if (colon < 0 || uri[colon + 1] !== '/' || uri[colon + 2] !== '/') return 'syntax';
  const rest = uri.slice(colon + 3);
  let end = rest.indexOf(':');
  if (end < 0) end = rest.indexOf('/');
  const host = end < 0 ? rest : rest.slice(0, end);
  if (host.length === 0) return 'syntax';
  if (base[0] === '.') return host.length > base.length && lower(host.slice(host.length - base.length)) === lower(base);
  return lower(host) === lower(base);
}

/** nc_ip: the address (hex) under the subtree's address/mask (hex, twice as long). */
function ipMatches(ip: string, base: string): boolean | 'syntax' {
  if (ip.length !== 8 && ip.length !== 32) return 'syntax';
  if (base.length !== ip.length * 2) return false;
  const a = Buffer.from(ip, 'hex');
  const net = Buffer.from(base.slice(0, ip.length), 'hex');
  const mask = Buffer.from(base.slice(ip.length), 'hex');
  return a.every((byte, k) => (byte & mask[k]!) === (net[k]! & mask[k]!));
}

/** OpenSSL's cn2dnsid: letters, digits, '_', inner '-' and '.', with at least one well-placed dot. */
function looksLikeHostName(cn: string): boolean {
  let dns = false;
  for (let i = 0; i < cn.length; i++) {
    const c = cn[i]!;
    if (/[A-Za-z0-9_]/.test(c)) continue;
    if (i > 0 && i < cn.length - 1) {
      if (c === '-') continue;
      if (c === '.' && cn[i + 1] !== '.' && cn[i - 1] !== '-' && cn[i - 1] !== '.') {
        dns = true;
        continue;
      }
    }
    return false;
  }
  return dns;
}
