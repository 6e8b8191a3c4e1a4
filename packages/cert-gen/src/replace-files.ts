import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './fs.js';

/** One file of a group replaced together. */
export interface GroupFile {
  /** File name inside the directory. */
  name: string;
  data: string | Uint8Array;
  /** Default 0o644; give 0o600 for keys (applies from creation). */
  mode?: number;
}

/** The intent of an unfinished replacement: each temp file and the hash of its complete content. */
interface Journal {
  files: Array<{ name: string; tmp: string; sha256: string }>;
}

/** A temp file this old without a journal is a leftover of a crash, not a replacement under way. */
const STRAY_AGE_MS = 60_000;
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const journalPath = (dir: string, group: string) => join(dir, `.${group}.journal`);

/**
 * Crash testing seam: `HARPER_TLS_CRASH_AT_STEP=N` SIGKILLs this process at the N-th step (write,
 * fsync, rename, directory fsync, unlink) of a group replacement, so a script can kill at every
 * step exactly (RELIABILITY.md). Unset (always, outside that script), it costs one comparison.
 */
let steps = 0;
const crashAt = Number(process.env.HARPER_TLS_CRASH_AT_STEP ?? 0);
function step(): void {
  if (crashAt > 0 && ++steps === crashAt) process.kill(process.pid, 'SIGKILL');
}

async function syncDir(dir: string): Promise<void> {
  step();
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close();
}

/**
 * Replaces several files of one directory as one (a key and its certificate, and the manifest that
 * names them): after a crash at any point, the next `recoverFileGroup` (which every reader of the
 * group runs first) leaves all of them old or all of them new, never a mix.
 *
 * 1. every new content goes to a temp file in the directory, fsynced;
 * 2. a journal naming the temp files and their hashes is written atomically: from here on the new
 *    contents are complete and durable, and recovery rolls forward;
 * 3. the temp files are renamed over the targets back to back, then the directory is fsynced;
 * 4. the journal is removed.
 * A crash before 2 leaves the old files and stray temp files (removed by recovery).
 */
export async function replaceFileGroup(dir: string, group: string, files: GroupFile[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries: Journal['files'] = [];
  try {
    for (const f of files) {
      const tmp = `.${f.name}.${randomBytes(6).toString('hex')}.tmp`;
      entries.push({ name: f.name, tmp, sha256: sha256(f.data) });
      step();
      const fh = await open(join(dir, tmp), 'wx', f.mode ?? 0o644);
      try {
        await fh.writeFile(f.data);
        step();
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  } catch (err) {
    for (const e of entries) await unlink(join(dir, e.tmp)).catch(() => undefined);
    throw err;
  }
  step();
  await writeFileAtomic(journalPath(dir, group), JSON.stringify({ files: entries } satisfies Journal), { mode: 0o600 });
  for (const e of entries) {
    step();
    await rename(join(dir, e.tmp), join(dir, e.name));
  }
  await syncDir(dir);
  step();
  await unlink(journalPath(dir, group));
  await syncDir(dir);
}

/**
 * Finishes or undoes an interrupted `replaceFileGroup` of `group` in `dir`: a journal means the new
 * contents were complete, so every temp file still there is renamed into place (roll forward);
 * without a journal, stray temp files of the group's files are removed. Synchronous, so that any
 * reader (even a synchronous one) runs it before reading. Returns the files it put in place.
 */
export function recoverFileGroup(dir: string, group: string, names: readonly string[]): string[] {
  const journal = journalPath(dir, group);
  const repaired: string[] = [];
  if (existsSync(journal)) {
    let parsed: Journal | undefined;
    try {
      parsed = JSON.parse(readFileSync(journal, 'utf8')) as Journal;
    } catch {
      // Written atomically, so never partial: an unreadable journal is not ours to act on.
      parsed = undefined;
    }
    for (const e of parsed?.files ?? []) {
      const tmp = join(dir, e.tmp);
      if (!/^\.[^/]+\.tmp$/.test(e.tmp) || e.name.includes('/') || !existsSync(tmp)) continue;
      // Only a temp file with exactly the journaled content is moved into place.
      if (sha256(readFileSync(tmp)) !== e.sha256) continue;
      renameSync(tmp, join(dir, e.name));
      repaired.push(join(dir, e.name));
    }
    fsyncDirSync(dir);
    unlinkSync(journal);
    fsyncDirSync(dir);
  }
  // Temp files of a replacement that died before its journal: the old files are intact, so these
  // are garbage. Only old ones go, never those of a replacement under way in another process.
  const prefixes = names.map((n) => `.${n}.`);
  let stray: string[] = [];
  try {
    stray = readdirSync(dir).filter((f) => f.endsWith('.tmp') && prefixes.some((p) => f.startsWith(p)));
  } catch {
    return repaired;
  }
  for (const f of stray) {
    try {
      if (Date.now() - statSync(join(dir, f)).mtimeMs > STRAY_AGE_MS) unlinkSync(join(dir, f));
    } catch {
      // Another process may have removed it first.
    }
  }
  return repaired;
}

function fsyncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the renames are still done.
  }
}
