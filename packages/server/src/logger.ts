import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import type { LogLevel } from '@harper-tls/config';

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
