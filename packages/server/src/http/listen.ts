import cluster from 'node:cluster';
import { chmodSync, lstatSync, mkdirSync, unlinkSync, type Stats } from 'node:fs';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';
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

/**
 * Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes what is left:
 * the server's own connections, and `leftovers` (sockets Node's connection list does not hold:
 * upgraded ones, WebSocket tunnels, TLS handshakes in progress).
 */
export function closeGracefully(server: Server & { closeIdleConnections?: () => void; closeAllConnections?: () => void }, graceMs: number, leftovers?: () => void): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => {
      server.closeAllConnections?.();
      leftovers?.();
    }, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections?.();
  });
}

/**
 * Listens on a Unix domain socket (`operationsApi.network.domainSocket`): its folder is created
 * (0700 when new), a stale socket file from an earlier run (nothing accepts on it) is replaced,
 * a live one or a file that is not a socket is an error, and the socket is made 0600.
 */
export async function listenSocket(server: Server, path: string, what: string): Promise<void> {
  const fail = (why: string, cause?: unknown) => new ServerError('ERR_SERVER_LISTEN', `${what}: cannot listen on ${path}: ${why}`, { cause });
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fail(`cannot create its folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  let stat: Stats | undefined;
  try {
    stat = lstatSync(path);
  } catch {}
  if (stat) {
    if (!stat.isSocket()) throw fail('the path exists and is not a socket; remove it or choose another domainSocket');
    if (await accepts(path)) {
      // A worker of a multi-worker server: the primary listens on the path for all of them, so a
      // live socket is shared; one held by another process makes the primary's bind fail below.
      if (!cluster.isWorker) throw fail('another process is listening on it');
    } else unlinkSync(path); // stale: left by a run that ended without closing it
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(fail(err.code === 'EACCES' ? 'permission denied' : err.message, err));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ path });
  });
  chmodSync(path, 0o600);
}

/** Whether something accepts connections on the socket at `path`. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}
