import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import type { LoggingConfig, LogLevel } from '@harper-tls/config';
import { logDestination, type LogDestinationOptions } from './log-destination.js';

export type Logger = PinoLogger;

/**
 * Structured JSON logs (pino) to stderr by default, so stdout stays for what a user or
 * script reads (URLs, the generated admin password). Anything that looks like a private key
 * is redacted by path and never passed to the logger by this package.
 */
export function createLogger(opts: { level?: LogLevel; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { name: 'harper-tls' },
      redact: { paths: ['*.private_key', '*.privateKey', 'private_key', 'privateKey', '*.password', 'password'], censor: '[redacted]' },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/**
 * The server's log as `logging` configures it (SPEC.md section 11): `<logging.root>/hdb.log`
 * (rotated) and/or stdout, at `logging.level`. `close()` flushes it (call it after the server stopped).
 */
export function openLog(logging: LoggingConfig, opts: LogDestinationOptions = {}): { logger: Logger; close(): Promise<void>; reopen(): Promise<void> } {
  const destination = logDestination(logging, opts);
  return { logger: createLogger({ level: logging.level, destination: destination.stream }), close: () => destination.close(), reopen: () => destination.reopen() };
}
