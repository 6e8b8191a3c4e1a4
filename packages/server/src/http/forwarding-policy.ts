import type { IncomingMessage } from 'node:http';
import { isIP, type Server } from 'node:net';
import { compileTrustedProxies, plainAddress, type TrustedProxies } from '@harper-tls/mtls-auth';
import { proxyHeaderOf } from './proxy-protocol/accept.js';
import type { ProxyHeader } from './proxy-protocol/parse.js';

/** A listener's forwarding policy (SPEC.md section 7), attached to its Node server. */
export interface ForwardingPolicy {
  proxies: TrustedProxies;
  /** The configured forwarded-certificate header (`http.mtls.forwardedCertificate.header`), lower case. */
  certificateHeader?: string;
  /** Called once per request whose forwarded headers were removed (the metric). */
  onUntrusted?: (req: IncomingMessage, removed: string[]) => void;
}

/** What is known of where a request came from, computed once per request. */
export interface ForwardingInfo {
  /** The TCP peer, `::ffff:` removed; undefined on a Unix domain socket. */
  peer: string | undefined;
  /** The TCP peer is in `trustedProxies`. */
  peerTrusted: boolean;
  /** The PROXY header of the connection, when it had one. */
  proxyHeader?: ProxyHeader;
  /**
   * The forwarded headers of this request are believed: the TCP peer is a trusted proxy, and,
   * on a PROXY-protocol connection, the client the header names is one too (otherwise the HTTP
   * headers came from that client through a TCP-mode proxy, and are its own).
   */
  headersTrusted: boolean;
  /** Forwarded headers the request carried that were removed (not believed). */
  removed: string[];
  /** The request carried a forwarded client address (X-Forwarded-For, Forwarded, X-Real-IP), believed or not. */
  carriedForwardedAddress: boolean;
  /** The client address (SPEC.md section 7): see client-address.ts. */
  clientAddress: string;
}

const POLICY = Symbol.for('harper-tls.forwarding-policy');
const INFO = Symbol.for('harper-tls.forwarding-info');

/**
 * Headers only a trusted proxy may set. Every forwarded-certificate header of the three formats
 * (and AWS ALB's) is on the list whatever is configured, so none reaches user code unverified.
 */
const ALWAYS = new Set(['forwarded', 'x-real-ip', 'x-forwarded-client-cert', 'x-ssl-client-cert', 'x-ssl-client-der', 'x-client-cert', 'client-cert', 'client-cert-chain']);

/**
 * A header name as CGI-style servers (WSGI, Rack, PHP, nginx with `underscores_in_headers`) see
 * it: `X_Real_IP` and `x-real-ip` are the same header there, so both are judged as the latter.
 */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}

/** The canonical name of each installed policy's certificate header, computed once. */
const CANONICAL_CERTIFICATE_HEADER = new WeakMap<ForwardingPolicy, string>();

/** `name`: a canonical header name (`canonicalHeaderName`). */
const isForwardingHeader = (name: string, policy: ForwardingPolicy | undefined) =>
  ALWAYS.has(name) || name.startsWith('x-forwarded-') || name.startsWith('x-amzn-mtls-clientcert') || (policy !== undefined && name === CANONICAL_CERTIFICATE_HEADER.get(policy));
const ADDRESS_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/** Attaches `policy` to a Node server: every request it serves is judged by it. */
export function installForwardingPolicy(server: Server, policy: ForwardingPolicy): void {
  if (policy.certificateHeader !== undefined) CANONICAL_CERTIFICATE_HEADER.set(policy, canonicalHeaderName(policy.certificateHeader));
  (server as Server & { [POLICY]?: ForwardingPolicy })[POLICY] = policy;
}

/** A policy that trusts nobody: for servers no policy was installed on. */
const NOBODY: ForwardingPolicy = { proxies: compileTrustedProxies([]) };

function connectionOf(req: IncomingMessage): (IncomingMessage['socket'] & { server?: Server }) | undefined {
  return ((req as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket ?? req.socket) as IncomingMessage['socket'] & { server?: Server };
}

function policyOf(socket: ReturnType<typeof connectionOf>): ForwardingPolicy {
  return socket?.server ? ((socket.server as Server & { [POLICY]?: ForwardingPolicy })[POLICY] ?? NOBODY) : NOBODY;
}

/** The rightmost X-Forwarded-For address that is not a trusted proxy (`base`: the hop that sent the request). */
function resolveClient(req: IncomingMessage, base: string, proxies: TrustedProxies): string {
  const header = req.headers['x-forwarded-for'];
  if (header === undefined || !proxies.contains(base)) return base;
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map((h) => h.trim());
  let client = base;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseHop(hops[i]!);
    if (hop === undefined) break; // garbage: keep the last address a trusted proxy vouched for
    client = hop;
    if (!proxies.contains(hop)) break;
  }
  return client;
}

/** An X-Forwarded-For entry as an address: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`. */
function parseHop(text: string): string | undefined {
  let t = text;
  const bracket = /^\[([0-9A-Fa-f:.]+)\](?::\d+)?$/.exec(t);
  if (bracket) t = bracket[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(t)) t = t.slice(0, t.lastIndexOf(':'));
  return /^[0-9A-Fa-f:.]+$/.test(t) && (t.includes('.') || t.includes(':')) && isAddress(t) ? plainAddress(t.toLowerCase()) : undefined;
}

function isAddress(t: string): boolean {
  return isIP(t) !== 0;
}

/**
 * SPEC.md section 7 at request entry: decides whether the request's forwarded headers are
 * believed and, when not, removes every one of them (the forwarded certificate header,
 * `X-Forwarded-*`, `Forwarded`, `X-Real-IP`) before anything reads them, and counts the request.
 * Idempotent: the first call decides, later calls return the same answer. Call it for every
 * request, WebSocket upgrades included, before authentication.
 */
export function applyForwardingPolicy(req: IncomingMessage): ForwardingInfo {
  const known = (req as IncomingMessage & { [INFO]?: ForwardingInfo })[INFO];
  if (known) return known;
  const socket = connectionOf(req);
  const policy = policyOf(socket);
  const raw = socket?.remoteAddress;
  const peer = raw ? plainAddress(raw) : undefined;
  const peerTrusted = policy.proxies.contains(peer);
  const proxyHeader = proxyHeaderOf(socket);
  const named = proxyHeader?.command === 'proxy' ? proxyHeader.source : undefined;
  // A PROXY header that forwards a client without naming it (v1 UNKNOWN, v2 PROXY with UNSPEC or
  // UNIX addresses): the HTTP headers are that unknown client's own. Only a v2 LOCAL connection
  // (the balancer's own health check) keeps the balancer's trust.
  const headersTrusted = peerTrusted && proxyHeader?.command !== 'unknown' && (named === undefined || policy.proxies.contains(named.address));
  const carriedForwardedAddress = ADDRESS_HEADERS.some((h) => req.headers[h] !== undefined);
  const removed: string[] = [];
  if (!headersTrusted) {
    for (const name of Object.keys(req.headers)) {
      if (isForwardingHeader(canonicalHeaderName(name), policy)) {
        removed.push(name);
        delete req.headers[name];
      }
    }
    if (removed.length) {
      // rawHeaders too: readers that look for duplicates (the forwarded certificate) use them.
      const raws = req.rawHeaders;
      if (Array.isArray(raws)) {
        const kept: string[] = [];
        for (let i = 0; i + 1 < raws.length; i += 2) if (!isForwardingHeader(canonicalHeaderName(raws[i]!), policy)) kept.push(raws[i]!, raws[i + 1]!);
        raws.length = 0;
        raws.push(...kept);
      }
      policy.onUntrusted?.(req, removed);
    }
  }
  const base = named ? plainAddress(named.address) : (peer ?? 'unix-socket');
  const info: ForwardingInfo = {
    peer,
    peerTrusted,
    ...(proxyHeader ? { proxyHeader } : {}),
    headersTrusted,
    removed,
    carriedForwardedAddress,
    clientAddress: headersTrusted ? resolveClient(req, base, policy.proxies) : base,
  };
  (req as IncomingMessage & { [INFO]?: ForwardingInfo })[INFO] = info;
  return info;
}

/**
 * The `X-Forwarded-For` to send on (SPEC.md sections 6 and 7): when the request's forwarded
 * headers are believed, the inbound entries (each a well-formed address; others dropped) and then
 * the hop that connected to us (the trusted proxy, or the PROXY header's source), as nginx's
 * `$proxy_add_x_forwarded_for` does; otherwise the client address alone.
 */
export function forwardedForChain(req: IncomingMessage): string[] {
  const info = applyForwardingPolicy(req);
  if (!info.headersTrusted) return info.clientAddress === 'unix-socket' ? [] : [info.clientAddress];
  const header = req.headers['x-forwarded-for'];
  const inbound = header === undefined ? [] : (Array.isArray(header) ? header.join(',') : header).split(',').map((h) => parseHop(h.trim()));
  const named = info.proxyHeader?.command === 'proxy' ? info.proxyHeader.source?.address : undefined;
  const hop = named ? plainAddress(named) : info.peer;
  return [...inbound, hop].filter((a): a is string => a !== undefined);
}

/**
 * For `authentication.authorizeLocal`: the request came through a proxy (its TCP peer is a
 * trusted proxy or it arrived with a PROXY header) or carried a forwarded address, believed or
 * not (SPEC.md section 11). Such a request is never "local".
 */
export function cameThroughProxy(req: IncomingMessage): boolean {
  const info = applyForwardingPolicy(req);
  return info.peerTrusted || info.proxyHeader !== undefined || info.carriedForwardedAddress;
}

/** The forwarded-certificate header configured for the listener that serves `req` (lower case), if any. */
export function forwardedCertificateHeader(req: IncomingMessage): string | undefined {
  return policyOf(connectionOf(req)).certificateHeader;
}

/** Whether a request's forwarded certificate header is to be read (the authenticator's `forwarded.trusted`). */
export function forwardedHeadersTrusted(req: IncomingMessage): boolean {
  return applyForwardingPolicy(req).headersTrusted;
}
