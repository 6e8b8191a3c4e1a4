import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/main.js';

/** A free TCP port for a server whose configuration names its port (see free-port.ts: below the ephemeral range). */
export { freePort } from '../../../../packages/revocation/test/helpers/free-port.js';

export function tempRoot(): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'harper-tls-root-'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface Run {
  code: Promise<number>;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<number>;
}

/** Runs the CLI in this process, with its own output buffers and stop signal. */
export function run(argv: string[], env: Record<string, string | undefined> = {}): Run {
  let out = '';
  let err = '';
  let stop!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (stop = r));
  // One process unless a test asks for workers (threads.count defaults to CPUs-1: machines differ).
  const code = main({ argv, env: { THREADS_COUNT: '1', ...env }, stdout: (t) => (out += t), stderr: (t) => (err += t), stopSignal, homedir: tmpdir() });
  return {
    code,
    stdout: () => out,
    stderr: () => err,
    async waitFor(text, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let done = false;
      void code.then(() => (done = true));
      while (Date.now() < deadline) {
        if (typeof text === 'string' ? out.includes(text) : text.test(out)) return;
        if (done) throw new Error(`command ended before printing ${text}; stdout: ${out}\nstderr: ${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`timed out waiting for ${text}; stdout: ${out}\nstderr: ${err}`);
    },
    async stop() {
      stop('SIGTERM');
      return code;
    },
  };
}

/** Runs a command to completion. */
export async function runToEnd(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = run(argv, env);
  const c = await r.code;
  return { code: c, stdout: r.stdout(), stderr: r.stderr() };
}

const execFileAsync = promisify(execFile);

/**
 * Runs an external program without blocking the event loop: the server under test lives in this
 * process, so a synchronous child (curl, openssl s_client) would deadlock against it.
 */
export async function exec(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  if (opts.input !== undefined) {
    return new Promise((resolve, reject) => {
      const child = execFile(file, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      child.stdin!.end(opts.input);
    });
  }
  const { stdout } = await execFileAsync(file, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 20_000 });
  return stdout;
}

/** curl with the status code split from the body. */
export async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const out = await exec('curl', ['-s', '-S', '--max-time', '10', '-w', '\n%{http_code}', ...args]);
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}
