import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer, request, type Agent, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createCA, createCrl, issueCertificate, type KeyAndCert } from '@harper-tls/cert-gen';

/** Certificates for the adapter tests, and a CRL (bob revoked) served over HTTP on 127.0.0.1. */
export interface AdapterPki {
  root: KeyAndCert;
  inter: KeyAndCert;
  server: KeyAndCert;
  alice: KeyAndCert;
  bob: KeyAndCert;
  carol: KeyAndCert;
  /** Issued by a CA the server does not trust. */
  stranger: KeyAndCert;
  crlRequests: () => number;
  close(): Promise<void>;
}

function listen<S extends HttpServer | HttpsServer>(server: S): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Root → intermediate → clients with a CRL distribution point on a local HTTP server; bob is revoked. */
export async function makeAdapterPki(): Promise<AdapterPki> {
  const crls = new Map<string, Uint8Array>();
  let requests = 0;
  const crlServer = createHttpServer((req, res) => {
    requests++;
    const body = crls.get(req.url ?? '');
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': body.length }).end(body);
  });
  const port = await listen(crlServer);
  const url = (name: string) => `http://127.0.0.1:${port}/${name}.crl`;
  const root = await createCA({ commonName: 'Adapter Test Root' });
  const inter = await createCA({ commonName: 'Adapter Test Issuing CA', issuer: root, pathLength: 0, crlUrl: url('root') });
  const server = await issueCertificate({ ca: root, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
  const client = (cn: string) => issueCertificate({ ca: inter, kind: 'client', commonName: cn, crlUrl: url('inter'), sans: [`URI:spiffe://example.org/user/${cn}`] });
  const [alice, bob, carol] = await Promise.all([client('alice'), client('bob'), client('carol')]);
  const other = await createCA({ commonName: 'Somebody Else CA' });
  const stranger = await issueCertificate({ ca: other, kind: 'client', commonName: 'alice' });
  const nextUpdate = new Date(Date.now() + 86_400_000);
  crls.set('/root.crl', await createCrl({ ca: root, crlNumber: 1, revoked: [], nextUpdate }));
  crls.set('/inter.crl', await createCrl({ ca: inter, crlNumber: 1, revoked: [{ serialHex: bob.serialHex, revokedAt: new Date(), reason: 'keyCompromise' }], nextUpdate }));
  return { root, inter, server, alice, bob, carol, stranger, crlRequests: () => requests, close: () => closeServer(crlServer) };
}

/** The TLS options a user's https server gets: `ca` and `requestCert: true`, unverified certificates left to the adapter. */
export function serverTls(pki: AdapterPki) {
  return { key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.root.certificatePem], requestCert: true, rejectUnauthorized: false };
}

/** An https server on 127.0.0.1:0 around a request listener. */
export async function startHttps(pki: AdapterPki, handler: RequestListener): Promise<{ port: number; close(): Promise<void> }> {
  const server = createHttpsServer(serverTls(pki), handler);
  const port = await listen(server);
  return { port, close: () => closeServer(server) };
}

export interface Reply {
  status: number;
  body: any;
  /** Whether the TLS session was resumed (only with an agent). */
  reused?: boolean;
  /** The client side's local port: the same for requests on one connection (only with an agent). */
  localPort?: number;
}

/** GET over a new TLS connection (or `agent`'s), presenting `as` (leaf + intermediate) when given. */
export function get(pki: AdapterPki, port: number, path: string, as?: KeyAndCert, headers: Record<string, string> = {}, agent?: Agent): Promise<Reply> {
  const chain = as && as !== pki.stranger ? as.certificatePem + pki.inter.certificatePem : as?.certificatePem;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, servername: 'localhost', ca: pki.root.certificatePem, agent: agent ?? false, headers, ...(as ? { key: as.privateKeyPem, cert: chain } : {}) },
      (res) => {
        const reused = (res.socket as TLSSocket).isSessionReused();
        const localPort = res.socket.localPort;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve(agent ? { status: res.statusCode!, body, reused, localPort } : { status: res.statusCode!, body });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
