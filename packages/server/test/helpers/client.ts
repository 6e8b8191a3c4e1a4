import https from 'node:https';
import type { PeerCertificate } from 'node:tls';

export interface Reply {
  status: number;
  body: any;
  peer?: PeerCertificate;
}

/** One HTTPS request on a fresh connection (no agent), so every call is a full handshake. */
export function httpsRequest(opts: { port: number; path?: string; method?: string; ca?: string; cert?: string; key?: string; servername?: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        servername: opts.servername ?? 'localhost',
        agent: false,
        headers: opts.headers,
        timeout: 10_000,
      },
      (res) => {
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, body, peer });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(opts.body);
  });
}
