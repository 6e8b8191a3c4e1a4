import { pino } from 'pino';
import { Writable } from 'node:stream';

/** A pino logger that keeps its JSON lines in memory, for assertions on what was logged. */
export function memoryLogger(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' = 'debug') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
