const BRAND = Symbol.for('harper-tls.error');

/**
 * Base class of every error harper-tls throws on purpose. `code` is stable and
 * documented; `message` is written for the user who has to act on it.
 * Branded with `Symbol.for` so `instanceof` holds across two copies of a package.
 */
export class HarperTlsError extends Error {
  readonly code: string;
  readonly [BRAND] = true;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    if (this !== HarperTlsError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** True when `err` is a harper-tls error (any package, any copy). */
export function isHarperTlsError(err: unknown): err is HarperTlsError {
  return err instanceof HarperTlsError;
}
