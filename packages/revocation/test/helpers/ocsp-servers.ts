import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, request, type IncomingMessage, type Server } from 'node:http';

/** A free TCP port for `openssl ocsp -port`, which cannot listen on port 0. */
export { freePort } from './free-port.js';

/**
 * Starts `openssl ocsp` in `dir` on port `p` for the CA `ca` (its `<ca>.idx` index), signing
 * with `<signer>.crt`/`<signer>.key`, and resolves once it says it is waiting for clients. (A
 * TCP probe is not usable: the responder is single-threaded and a probe connection that sends
 * no request wedges it.) Kill the returned process when done.
 */
export function startOpensslResponder(dir: string, p: number, signer: string, ca = 'ca'): Promise<ChildProcess> {
  const child = spawn('openssl', ['ocsp', '-index', `${ca}.idx`, '-port', String(p), '-rsigner', `${signer}.crt`, '-rkey', `${signer}.key`, '-CA', `${ca}.crt`, '-ndays', '1'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`openssl ocsp did not start: ${text}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('waiting for OCSP client connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`openssl ocsp exited (${code}): ${text}`)));
  });
}

export interface SeenRequest {
  method: string;
  url: string;
  contentType?: string;
  /** The DER OCSPRequest: the POST body, or the decoded last path segment of a GET. */
  der: Buffer;
}

export const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/** The DER request of a GET `<prefix>/<url-encoded base64>` or a POST. */
export async function requestDer(req: IncomingMessage): Promise<Buffer> {
  if (req.method === 'GET') return Buffer.from(decodeURIComponent((req.url ?? '').split('/').pop()!), 'base64');
  return readBody(req);
}

/**
 * A local HTTP server recording every OCSP request (method, path, DER) and handing the DER to
 * `answer`, which returns the DER response (or an HTTP status to answer instead).
 */
export async function recordingServer(answer: (der: Buffer, req: IncomingMessage) => Promise<Buffer | number> | Buffer | number): Promise<{ server: Server; port: number; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const server = createHttpServer(async (req, res) => {
    const der = await requestDer(req);
    seen.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'], der });
    try {
      const out = await answer(der, req);
      if (typeof out === 'number') res.writeHead(out).end();
      else res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': out.length }).end(out);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as { port: number }).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Forwards a DER OCSP request to a responder as GET `/<url-encoded base64>` (or POST) and returns its answer. */
export function forward(port: number, der: Buffer, method: 'GET' | 'POST' = 'POST'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const path = method === 'GET' ? `/${encodeURIComponent(der.toString('base64'))}` : '/';
    const headers = method === 'POST' ? { 'content-type': 'application/ocsp-request', 'content-length': der.length } : {};
    const r = request({ host: '127.0.0.1', port, path, method, headers }, async (res) => resolve(await readBody(res)));
    r.on('error', reject);
    r.end(method === 'POST' ? der : undefined);
  });
}
