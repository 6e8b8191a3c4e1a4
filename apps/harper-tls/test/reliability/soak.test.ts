import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The soak script for 12 s (SOAK_MINUTES=0.2): every decision right, RSS and fds within bounds. The 10-minute run: RELIABILITY.md. */
const SCRIPT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../scripts/soak.mjs');

describe('soak (short)', () => {
  it('mixed good / revoked / unknown-user mTLS handshakes for 12 s: no wrong decision, no leak', async () => {
    const { code, out } = await new Promise<{ code: number; out: string }>((res) => {
      execFile(process.execPath, [SCRIPT], { env: { ...process.env, SOAK_MINUTES: '0.2', SOAK_SAMPLE_MS: '3000' }, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
    });
    console.log(out.trim().split('\n').slice(-2).join('\n'));
    expect(out).toContain('soak ok');
    expect(code).toBe(0);
    const summary = JSON.parse(out.split('\n').find((l) => l.startsWith('{"minutes"'))!) as { wrongDecisions: number; requests: number };
    expect(summary.wrongDecisions).toBe(0);
    expect(summary.requests).toBeGreaterThan(30);
  }, 60_000);
});
