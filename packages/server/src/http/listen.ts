import type { Server } from 'node:net';
import { ServerError } from '../errors.js';

/** Listens on `port` (all interfaces unless `host` is given) and resolves with the bound port. */
export function listen(server: Server, port: number, host: string | undefined, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new ServerError('ERR_SERVER_LISTEN', `${what}: cannot listen on port ${port}: ${why}`, { cause: err }));
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host });
  });
}

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes what is left. */
export function closeGracefully(server: Server & { closeIdleConnections?: () => void; closeAllConnections?: () => void }, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections?.(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections?.();
  });
}
