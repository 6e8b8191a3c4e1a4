import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { guardProcess } from '../src/process-guard.js';

function capture() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  return {
    lines,
    logger: {
      error: (obj: object, msg?: string) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
      debug: (obj: object, msg?: string) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
    },
  };
}

describe('guardProcess', () => {
  it('logs an unhandled rejection at error instead of letting the process exit, and removes itself', () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process;
    const { lines, logger } = capture();
    const unguard = guardProcess(logger, proc);
    expect(proc.listenerCount('unhandledRejection')).toBe(1);
    proc.emit('unhandledRejection', new Error('boom'), Promise.resolve());
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('error');
    expect((lines[0]!.obj.err as Error).message).toBe('boom');
    unguard();
    expect(proc.listenerCount('unhandledRejection')).toBe(0);
  });

  it("treats lmdb's echo of a failed commit as debug and handles its commitError promise", async () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process;
    const { lines, logger } = capture();
    guardProcess(logger, proc);
    let handled = false;
    const commitError = Promise.reject(new Error('No space left on device'));
    const originalCatch = commitError.catch.bind(commitError);
    commitError.catch = ((fn: (e: unknown) => unknown) => {
      handled = true;
      return originalCatch(fn);
    }) as typeof commitError.catch;
    proc.emit('unhandledRejection', Object.assign(new Error('Commit failed (see commitError for details)'), { commitError }), Promise.resolve());
    expect(handled).toBe(true);
    expect(lines.map((l) => l.level)).toEqual(['debug']);
  });

  it('logs a non-Error reason with its text', () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process;
    const { lines, logger } = capture();
    guardProcess(logger, proc);
    proc.emit('unhandledRejection', 'plain string', Promise.resolve());
    expect(lines[0]!.obj.err).toEqual({ message: 'plain string' });
  });
});
