import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@harper-tls/cert-gen';

/** Reads `<dir>/.jwt-secret`, or creates it (32 random bytes, 0600, atomic). */
export async function loadOrCreateSecret(dir: string): Promise<Uint8Array> {
  const path = join(dir, '.jwt-secret');
  try {
    const b = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
    if (b.length >= 32) return new Uint8Array(b);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32);
  await writeFileAtomic(path, secret.toString('base64url') + '\n', { mode: 0o600 });
  return new Uint8Array(secret);
}
