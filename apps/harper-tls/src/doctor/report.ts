import type { X509Certificate } from 'node:crypto';

/** 3: on a cluster node's root, the engine holding users, run-time CAs and revocation records did not answer. */
export const DOCTOR_EXIT = { accepted: 0, badInput: 1, rejected: 2, undetermined: 3 } as const;

export type Mark = 'ok' | 'fail' | 'skip' | 'info';
const SYMBOL: Record<Mark, string> = { ok: '✔', fail: '✘', skip: '-', info: '·' };

/** Where a failure sits in the server's order; it decides what the client sees. */
export type Stage = 'listener' | 'chain' | 'revocation' | 'identity' | 'application';

const DAY_MS = 86_400_000;
export const subjectOf = (c: X509Certificate) => c.subject.replace(/\n/g, ', ');
export const issuerOf = (c: X509Certificate) => c.issuer.replace(/\n/g, ', ');
export const isoTime = (d: Date) => d.toISOString().replace('.000Z', 'Z');
export const dayCount = (ms: number) => {
  const n = Math.round(Math.abs(ms) / DAY_MS);
  return `${n} day${n === 1 ? '' : 's'}`;
};

/**
 * The doctor's findings: one line per check, and the first failure in the server's order, which
 * is the verdict. Every check still runs after a failure, so all problems show at once.
 */
export class Report {
  readonly #steps: Array<{ mark: Mark; text: string }> = [];
  #rejection: { stage: Stage; why: string } | undefined;
  #undetermined: string | undefined;

  /** @param at the time the checks are judged at (`--at`), when it is not now; the verdict names it. */
  constructor(readonly at?: Date) {}

  say(mark: Mark, text: string): void {
    this.#steps.push({ mark, text });
  }

  /** A failed check: `text` is its line, `why` the verdict's wording when it is the first failure. */
  fail(stage: Stage, text: string, why = text): void {
    this.say('fail', text);
    this.#rejection ??= { stage, why };
  }

  /** A source the verdict depends on could not be read (the cluster engine): the verdict is undetermined unless the listener alone refuses. */
  undetermined(text: string, why = text): void {
    this.say('fail', text);
    this.#undetermined ??= why;
  }

  get rejected(): boolean {
    return this.#rejection !== undefined;
  }

  /** Prints the lines and the verdict; returns the exit code. */
  finish(write: (t: string) => void, outcome: { required: boolean; username?: string; role?: string; api: 'app' | 'operations'; route?: boolean }): number {
    for (const s of this.#steps) write(`${SYMBOL[s.mark]} ${s.text}\n`);
    if (outcome.route) return DOCTOR_EXIT.accepted; // --path alone: the route is the answer
    const when = this.at ? ` (as of ${isoTime(this.at)})` : '';
    if (this.#undetermined && this.#rejection?.stage !== 'listener') {
      const as = outcome.username !== undefined && outcome.role !== undefined ? ` as user "${outcome.username}" (role ${outcome.role})` : '';
      const found = this.#rejection ? ` The checks that could be made found: ${this.#rejection.why}.` : ` The checks that could be made pass${as}.`;
      write(`\nUNDETERMINED${when}: ${this.#undetermined}.${found}\n`);
      return DOCTOR_EXIT.undetermined;
    }
    if (this.#rejection) {
      write(`\nREJECTED${when}: ${this.#rejection.why}.\n${consequence(this.#rejection.stage, outcome.required)}\n`);
      return DOCTOR_EXIT.rejected;
    }
    if (outcome.username === undefined) write(`\nACCEPTED${when} as no user: the TLS connection is accepted, but requests need Basic or JWT credentials to authenticate.\n`);
    else write(`\nACCEPTED${when} as user "${outcome.username}" (role ${outcome.role}) on the ${outcome.api === 'app' ? 'application' : 'Operations'} API.\n`);
    return DOCTOR_EXIT.accepted;
  }
}

/** What the client sees for a failure at `stage` (SPEC.md sections 4 and 5). */
function consequence(stage: Stage, required: boolean): string {
  switch (stage) {
    case 'listener':
      return 'The certificate plays no part: requests authenticate with Basic or JWT credentials only.';
    case 'chain':
      return required ? 'The client sees the TLS handshake fail (mTLS is required).' : 'The server ignores the certificate: the request gets 401 {"error":"Login failed"} unless it carries Basic or JWT credentials.';
    case 'revocation':
      return 'The client gets 401 {"error":"Certificate revoked or verification failed"}, even with Basic or JWT credentials.';
    case 'identity':
      return required ? 'The client gets 401 {"error":"Login failed"}.' : 'The client gets 401 {"error":"Login failed"} unless the request also carries valid Basic or JWT credentials.';
    case 'application':
      return 'The client gets 403 {"error":"Forbidden"} on that path (other paths are not affected).';
  }
}
