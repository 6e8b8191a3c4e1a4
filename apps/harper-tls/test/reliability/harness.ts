import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, run } from '../helpers/run.js';

/** The built CLI; `pnpm --filter harper-tls test` runs tsup first, so it is current. */
export const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../dist/cli.js');

export interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stdout (default), stderr or a file (e.g. the server's `log/hdb.log`) contains `text`. */
  waitFor(text: string, timeoutMs?: number, stream?: 'stdout' | 'stderr' | { file: string }): Promise<void>;
}

/** Spawns `node dist/cli.js ...args` so it can be SIGKILLed for real; one worker (`THREADS_COUNT=1`) unless `env` says otherwise, whatever the machine's CPUs. */
export function spawnCli(args: string[], env: Record<string, string> = {}, as?: { uid: number; gid: number }): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', THREADS_COUNT: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...as });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    async waitFor(text, timeoutMs = 15_000, stream = 'stdout') {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (read(stream).includes(text)) return;
        if (done) throw new Error(`child ended before printing ${text}; stdout: ${out}\nstderr: ${err}`);
        await sleep(20);
      }
      throw new Error(`timed out waiting for ${text}; stdout: ${out}\nstderr: ${err}`);
    },
  };
  function read(stream: 'stdout' | 'stderr' | { file: string }): string {
    if (stream === 'stdout') return out;
    if (stream === 'stderr') return err;
    return existsSync(stream.file) ? readFileSync(stream.file, 'utf8') : '';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGKILLs the child (if still running) and waits for it to be gone. */
export async function kill9(c: Child): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await c.exited;
}

/** Problems with one certificate/key pair: parse failures, key mismatch. Empty when consistent. */
export function pairProblems(certFile: string, keyFile: string): string[] {
  const problems: string[] = [];
  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (e) {
    problems.push(`${certFile}: does not parse (${(e as Error).message})`);
  }
  try {
    const key = createPrivateKey(readFileSync(keyFile));
    if (cert && !cert.checkPrivateKey(key)) problems.push(`${keyFile} does not match ${certFile}`);
  } catch (e) {
    problems.push(`${keyFile}: does not parse (${(e as Error).message})`);
  }
  return problems;
}

/** Problems with `<root>/keys`: both pairs consistent and `openssl verify` of the server certificate against the CA. */
export function keysProblems(root: string): string[] {
  const keys = join(root, 'keys');
  const problems = [...pairProblems(join(keys, 'ca.pem'), join(keys, 'ca-privateKey.pem')), ...pairProblems(join(keys, 'certificate.pem'), join(keys, 'privateKey.pem'))];
  if (problems.length === 0) {
    try {
      execFileSync('openssl', ['verify', '-CAfile', join(keys, 'ca.pem'), join(keys, 'certificate.pem')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      problems.push(`openssl verify failed: ${(e as { stdout?: string; stderr?: string }).stderr ?? (e as Error).message}`);
    }
  }
  return problems;
}

/** `*.tmp` files left anywhere under `dir` (atomic writes interrupted between write and rename). */
export function tmpLeftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
}

export interface Ports {
  http: number;
  https: number;
  ops: number;
}

export async function freePorts(): Promise<Ports> {
  return { http: await freePort(), https: await freePort(), ops: await freePort() };
}

export function portArgs(p: Ports): string[] {
  return ['--HTTP_PORT', String(p.http), '--HTTP_SECUREPORT', String(p.https), '--OPERATIONSAPI_NETWORK_PORT', String(p.ops)];
}

/** Starts the server in-process, waits until every listener is up, stops it; returns its exit code and output. */
export async function startAndStop(root: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = run(['start', '--root', root, ...portArgs(await freePorts())], env);
  try {
    await r.waitFor('operations ');
  } catch {
    // The error text carries stdout/stderr; the exit code below tells the caller what happened.
  }
  const code = await r.stop();
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

/** A random integer in [0, max). */
export function randomDelay(max: number): number {
  return Math.floor(Math.random() * max);
}

/** Run count from the environment (RELIABILITY_RUNS), else `dflt`; bounded to 1..500. */
export function runs(dflt: number): number {
  const n = Number(process.env.RELIABILITY_RUNS ?? dflt);
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : dflt;
}

/** Whether this machine lets the tests mount a tmpfs (root on Linux, with the capability to mount). */
export function probeMount(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(join(tmpdir(), 'harper-tls-mount-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
