import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { sanEntries, type ClientCertificate } from '@harper-tls/mtls-auth';

/** The verified client certificate as modules see it (`req.clientCertificate` / `context.clientCertificate`): the adapters' shape. */
export type { ClientCertificate };

const described = new WeakMap<X509Certificate, ClientCertificate>();

export function describeClientCertificate(x: X509Certificate): ClientCertificate {
  let c = described.get(x);
  if (!c) {
    c = Object.freeze({
      subject: x.subject.replace(/\n/g, ', '),
      issuer: x.issuer.replace(/\n/g, ', '),
      serialNumber: x.serialNumber.toLowerCase(),
      fingerprint256: x.fingerprint256,
      // Node JSON-quotes a SAN value with `,` in it: entries are read as Node wrote them, not split on `,`.
      san: Object.freeze(sanEntries(x.subjectAltName).map(([type, value]) => `${type}:${value}`)) as string[],
      validTo: new Date(x.validTo).toISOString(),
    });
    described.set(x, c);
  }
  return c;
}

const perSocket = new WeakMap<object, X509Certificate | null>();

/** The peer certificate of a TLS connection, parsed once per connection. */
export function peerCertificate(socket: TLSSocket | undefined): X509Certificate | null {
  if (!socket || typeof socket.getPeerX509Certificate !== 'function') return null;
  let x = perSocket.get(socket);
  if (x === undefined) {
    x = socket.getPeerX509Certificate() ?? null;
    perSocket.set(socket, x);
  }
  return x;
}
