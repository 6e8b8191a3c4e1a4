import { spawn } from 'node:child_process';

export interface SClientRun {
  /** Everything s_client printed (stdout and stderr). */
  output: string;
  code: number | null;
}

/**
 * Runs `openssl s_client` against 127.0.0.1:`port` asynchronously (the server under test runs in
 * this process: a synchronous child would deadlock against it). `input` is written once the
 * handshake is done (s_client printed its `---` summary), or at once with `writeAtStart`; stdin
 * then closes unless `keepOpenFor` names output that must appear first (renegotiation). Bounded
 * by `timeoutMs`; no fixed sleeps.
 */
export function sClient(port: number, args: string[], opts: { input?: string; keepOpenFor?: RegExp; timeoutMs?: number; cwd?: string } = {}): Promise<SClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let wrote = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`openssl s_client ${args.join(' ')} did not finish: ${output}`));
    }, opts.timeoutMs ?? 10_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!wrote && /^---$/m.test(output) && /(New|Reused), /.test(output)) {
        wrote = true;
        if (opts.input) child.stdin.write(opts.input);
        if (!opts.keepOpenFor) child.stdin.end();
      }
      if (wrote && opts.keepOpenFor?.test(output)) child.stdin.end();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ output, code });
    });
    // A failed handshake never prints the summary: close stdin when the process says so.
    child.stdin.on('error', () => undefined);
  });
}
