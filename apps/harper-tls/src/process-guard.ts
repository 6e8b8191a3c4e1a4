/** The logger shape the guard needs (pino-compatible). */
interface GuardLogger {
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/**
 * Keeps a running server up when a promise rejects with nobody listening. Node's default is to exit,
 * which would take every listener down for one failed background task. The known case: when an lmdb
 * commit fails (disk full, read-only), lmdb rejects the caller's promise, which we handle and answer
 * with a clear error, and also internal promises of the same batch that nobody can reach; those are
 * logged at debug. Anything else is logged at error with its stack. Returns the function that removes
 * the guard (the server stops, or the CLI runs in-process in a test).
 */
export function guardProcess(logger: GuardLogger, proc: NodeJS.Process = process): () => void {
  const onRejection = (reason: unknown) => {
    const commitError = (reason as { commitError?: Promise<unknown> } | null)?.commitError;
    if (commitError && typeof commitError.then === 'function') {
      commitError.catch(() => {});
      logger.debug({ err: (reason as Error).message }, 'lmdb commit failure echoed on an internal promise (the caller got the error)');
      return;
    }
    logger.error({ err: reason instanceof Error ? reason : { message: String(reason) } }, 'unhandled promise rejection; the server keeps running');
  };
  proc.on('unhandledRejection', onRejection);
  return () => {
    proc.off('unhandledRejection', onRejection);
  };
}
