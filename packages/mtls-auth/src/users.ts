import { AuthError } from './errors.js';

/**
 * Users: the interface the authenticator and the Operations API handlers need, and the input
 * checks every implementation applies. Implementations: createMemoryUserStore (this package)
 * and the lmdb store of @harper-tls/server (openUserStore).
 */

/** A user as the rest of the system sees it: never the password hash. */
export interface User {
  username: string;
  role: string;
  active: boolean;
}

export interface UserStore {
  get(username: string): Promise<User | undefined>;
  create(input: { username: string; password: string; role: string; active?: boolean }): Promise<User>;
  alter(username: string, changes: { password?: string; role?: string; active?: boolean }): Promise<User>;
  drop(username: string): Promise<void>;
  list(): Promise<User[]>;
  /** The user when the password is right and the user is active; constant time for unknown users. */
  verifyPassword(username: string, password: string): Promise<User | undefined>;
  /** A token that changes whenever the user's password, role or active flag changes (for per-connection caches). */
  version(username: string): Promise<string | undefined>;
  /**
   * A counter that changes after every create, alter and drop made through this store (this
   * process), once the write is committed. Caches keyed on it see such changes on their next
   * read. Optional for other implementations: without it the authenticator does not cache users.
   */
  generation?(): number;
  /** First start: creates `username` as super_user when no user exists; returns the generated password if it made one. */
  ensureAdmin(opts: { username: string; password?: string }): Promise<{ created: boolean; generatedPassword?: string }>;
  close(): Promise<void>;
}

const MAX_NAME = 256;

/** Returns `username` when it is a string of 1-256 characters without control characters; throws ERR_AUTH_INVALID_INPUT otherwise. */
export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || username.length === 0) throw new AuthError('ERR_AUTH_INVALID_INPUT', '"username" must be a non-empty string');
  if (username.length > MAX_NAME) throw new AuthError('ERR_AUTH_INVALID_INPUT', `"username" is longer than ${MAX_NAME} characters`);
  if (/[\u0000-\u001f\u007f]/.test(username)) throw new AuthError('ERR_AUTH_INVALID_INPUT', '"username" must not contain control characters');
  return username;
}

/** Returns `password` when it is a string of 1-1024 characters; throws ERR_AUTH_INVALID_INPUT otherwise. */
export function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length === 0) throw new AuthError('ERR_AUTH_INVALID_INPUT', '"password" must be a non-empty string');
  if (password.length > 1024) throw new AuthError('ERR_AUTH_INVALID_INPUT', '"password" is longer than 1024 characters');
  return password;
}

/** Returns `role` when it is a string of 1-128 characters without control characters; throws ERR_AUTH_INVALID_INPUT otherwise. */
export function checkRole(role: unknown): string {
  if (typeof role !== 'string' || role.length === 0 || role.length > 128 || /[\u0000-\u001f]/.test(role)) throw new AuthError('ERR_AUTH_INVALID_INPUT', '"role" must be a non-empty string ("super_user" or another role name)');
  return role;
}
