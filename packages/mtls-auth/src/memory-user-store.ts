import { randomBytes } from 'node:crypto';
import { AuthError } from './errors.js';
import { dummyHash, hashPassword, verifyPasswordHash } from './password.js';
import { checkPassword, checkRole, checkUsername, type User, type UserStore } from './users.js';

interface StoredUser extends User {
  passwordHash: string;
}

const publicUser = (u: StoredUser): User => ({ username: u.username, role: u.role, active: u.active });

/**
 * A UserStore in memory (scrypt hashes, lost on exit): for tests, benchmarks and programs that
 * load their users from elsewhere at start. Same checks and errors as the lmdb store of
 * @harper-tls/server. `generation()` changes after every create, alter and drop.
 */
export function createMemoryUserStore(): UserStore {
  const users = new Map<string, StoredUser>();
  let generation = 0;
  const store: UserStore = {
    async get(username) {
      const u = typeof username === 'string' ? users.get(username) : undefined;
      return u ? publicUser(u) : undefined;
    },
    async create(input) {
      const username = checkUsername(input.username);
      const password = checkPassword(input.password);
      const role = checkRole(input.role);
      if (input.active !== undefined && typeof input.active !== 'boolean') throw new AuthError('ERR_AUTH_INVALID_INPUT', '"active" must be true or false');
      const passwordHash = await hashPassword(password);
      if (users.has(username)) throw new AuthError('ERR_AUTH_USER_EXISTS', `user "${username}" already exists`);
      const user: StoredUser = { username, role, active: input.active ?? true, passwordHash };
      users.set(username, user);
      generation++;
      return publicUser(user);
    },
    async alter(username, changes) {
      const current = users.get(checkUsername(username));
      if (!current) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', `user "${username}" does not exist`);
      const next: StoredUser = { ...current };
      if (changes.password !== undefined) next.passwordHash = await hashPassword(checkPassword(changes.password));
      if (changes.role !== undefined) next.role = checkRole(changes.role);
      if (changes.active !== undefined) {
        if (typeof changes.active !== 'boolean') throw new AuthError('ERR_AUTH_INVALID_INPUT', '"active" must be true or false');
        next.active = changes.active;
      }
      users.set(username, next);
      generation++;
      return publicUser(next);
    },
    async drop(username) {
      if (!users.delete(checkUsername(username))) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', `user "${username}" does not exist`);
      generation++;
    },
    async list() {
      return [...users.values()].map(publicUser);
    },
    async verifyPassword(username, password) {
      const u = typeof username === 'string' ? users.get(username) : undefined;
      if (!u) {
        await verifyPasswordHash(String(password), await dummyHash());
        return undefined;
      }
      const ok = await verifyPasswordHash(String(password), u.passwordHash);
      return ok && u.active ? publicUser(u) : undefined;
    },
    async version(username) {
      const u = users.get(username);
      return u ? `${u.passwordHash}|${u.role}|${u.active}` : undefined;
    },
    generation: () => generation,
    async ensureAdmin({ username, password }) {
      if (users.size > 0) return { created: false };
      const generated = password ? undefined : randomBytes(18).toString('base64url');
      await store.create({ username, password: password || generated!, role: 'super_user', active: true });
      return { created: true, generatedPassword: generated };
    },
    async close() {},
  };
  return store;
}
