import { isIP } from 'node:net';
import { invalid } from './errors.js';

/** A subject alternative name as @peculiar/x509 takes it. */
export interface SanName {
  type: 'dns' | 'ip' | 'email' | 'url';
  value: string;
}

const DNS = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

/**
 * Parses `DNS:x`, `IP:y`, `email:z`, `URI:u` (prefix case-insensitive). A bare value is taken as
 * an IP when it is one, else as a DNS name. Every value is validated.
 */
export function parseSan(input: string): SanName {
  const m = /^(dns|ip|email|uri|url):(.*)$/i.exec(input.trim());
  const kind = m ? m[1]!.toLowerCase() : isIP(input.trim()) ? 'ip' : 'dns';
  const value = (m ? m[2]! : input).trim();
  if (!value) invalid(`SAN "${input}" has no value`);
  switch (kind) {
    case 'dns':
      if (!DNS.test(value) || value.length > 253) invalid(`SAN "${input}": "${value}" is not a valid DNS name (wildcards only as a whole first label, e.g. *.example.com)`);
      return { type: 'dns', value: value.toLowerCase() };
    case 'ip':
      if (!isIP(value)) invalid(`SAN "${input}": "${value}" is not an IPv4 or IPv6 address`);
      return { type: 'ip', value };
    case 'email':
      if (!/^[^\s@]+@[^\s@]+$/.test(value)) invalid(`SAN "${input}": "${value}" is not an email address`);
      return { type: 'email', value };
    default: {
      let ok = false;
      try {
        ok = !!new URL(value).protocol;
      } catch {}
      if (!ok) invalid(`SAN "${input}": "${value}" is not an absolute URI (e.g. spiffe://example.org/user/alice)`);
      return { type: 'url', value };
    }
  }
}
