import { connect, type PeerCertificate } from 'node:tls';

/**
 * One TLS handshake with 127.0.0.1:port (no HTTP): what the server presented and picked. A Node
 * client rather than `echo | openssl s_client`, whose output races its stdin's end under load.
 */
export function tlsProbe(port: number, opts: { servername?: string; ca?: string | Buffer; ALPNProtocols?: string[]; timeoutMs?: number } = {}): Promise<{ certificate: PeerCertificate; alpnProtocol: string | false }> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername: opts.servername ?? 'localhost', ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }), ALPNProtocols: opts.ALPNProtocols },
      () => {
        resolve({ certificate: socket.getPeerCertificate(), alpnProtocol: socket.alpnProtocol ?? false });
        socket.end();
      },
    );
    socket.setTimeout(opts.timeoutMs ?? 10_000, () => socket.destroy(new Error(`TLS handshake with 127.0.0.1:${port} timed out`)));
    socket.once('error', reject);
  });
}
