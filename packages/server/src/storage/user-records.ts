/**
 * Users over any record store: the checks and hashing of mtls-auth's UserStore contract, the
 * storage behind a small synchronous-read interface. Implemented by the lmdb records
 * (`openUserStore`, one node) and by @harper-tls/store's cluster engine (several nodes).
 */
import { randomBytes } from 'node:crypto';
import { AuthError, checkPassword, checkRole, checkUsername, dummyHash, hashPassword, verifyPasswordHash, type User, type UserStore } from '@harper-tls/mtls-auth';

export interface StoredUser extends User {
  passwordHash: string;
}

/** What a user store needs of its storage. Reads are synchronous (a local copy). */
export interface UserRecordStore {
  get(username: string): StoredUser | undefined;
  list(): StoredUser[];
  count(): number;
  /** False when the user exists. */
  create(user: StoredUser): Promise<boolean>;
  put(user: StoredUser): Promise<void>;
  /** `change` applied to the current record in one write transaction; undefined (nothing written) when absent. */
  update(username: string, change: (current: StoredUser) => StoredUser): Promise<StoredUser | undefined>;
  remove(username: string): Promise<void>;
  /** Changes made elsewhere (another node): the user cache generation moves on. */
  onChange?(listener: (username: string) => void): () => void;
  close(): Promise<void>;
}

/** Usernames longer than this are not looked up (checkUsername refuses them on create). */
const MAX_NAME = 256;

const publicUser = (u: StoredUser): User => ({ username: u.username, role: u.role, active: u.active });

export function userStoreOver(records: UserRecordStore): UserStore {
  const getStored = (username: string) => records.get(username);
  // Bumped after each write settles (never before: a reader must not pair the new number with old data).
  let generation = 0;
  const off = records.onChange?.(() => generation++);
  const store: UserStore = {
    async get(username) {
      const u = typeof username === 'string' ? getStored(username) : undefined;
      return u ? publicUser(u) : undefined;
    },
    async create(input) {
      const username = checkUsername(input.username);
      const password = checkPassword(input.password);
      const role = checkRole(input.role);
      if (input.active !== undefined && typeof input.active !== 'boolean') throw new AuthError('ERR_AUTH_INVALID_INPUT', '"active" must be true or false');
      const user: StoredUser = { username, role, active: input.active ?? true, passwordHash: await hashPassword(password) };
      const ok = await records.create(user).finally(() => generation++);
      if (!ok) throw new AuthError('ERR_AUTH_USER_EXISTS', `user "${username}" already exists`);
      return publicUser(user);
    },
    async alter(username, changes) {
      const notFound = () => new AuthError('ERR_AUTH_USER_NOT_FOUND', `user "${username}" does not exist`);
      if (!getStored(checkUsername(username))) throw notFound();
      const set: Partial<StoredUser> = {};
      if (changes.role !== undefined) set.role = checkRole(changes.role);
      if (changes.active !== undefined) {
        if (typeof changes.active !== 'boolean') throw new AuthError('ERR_AUTH_INVALID_INPUT', '"active" must be true or false');
        set.active = changes.active;
      }
      if (changes.password !== undefined) set.passwordHash = await hashPassword(checkPassword(changes.password));
      // Only the fields changed here, over the record as it is when written: a concurrent alter of
      // other fields is kept, and a user dropped meanwhile (the hash takes a while) stays dropped.
      const next = await records.update(username, (current) => ({ ...current, ...set })).finally(() => generation++);
      if (!next) throw notFound();
      return publicUser(next);
    },
    async drop(username) {
      if (!getStored(checkUsername(username))) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', `user "${username}" does not exist`);
      await records.remove(username).finally(() => generation++);
    },
    async list() {
      return records.list().map(publicUser);
    },
    async verifyPassword(username, password) {
      const u = typeof username === 'string' && username.length <= MAX_NAME ? getStored(username) : undefined;
      if (!u) {
        await verifyPasswordHash(String(password), await dummyHash());
        return undefined;
      }
      const ok = await verifyPasswordHash(String(password), u.passwordHash);
      return ok && u.active ? publicUser(u) : undefined;
    },
    async version(username) {
      const u = getStored(username);
      return u ? `${u.passwordHash}|${u.role}|${u.active}` : undefined;
    },
    generation: () => generation,
    async ensureAdmin({ username, password }) {
      if (records.count() > 0) return { created: false };
      const generated = password ? undefined : randomBytes(18).toString('base64url');
      try {
        await store.create({ username, password: password || generated!, role: 'super_user', active: true });
      } catch (err) {
        // Several nodes starting at once: another one created the first user.
        if (err instanceof AuthError && err.code === 'ERR_AUTH_USER_EXISTS') return { created: false };
        throw err;
      }
      return { created: true, generatedPassword: generated };
    },
    async close() {
      off?.();
      await records.close();
    },
  };
  return store;
}
