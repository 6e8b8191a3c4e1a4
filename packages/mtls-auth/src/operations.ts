import { AuthError } from './errors.js';
import type { User, UserStore } from './users.js';
import type { TokenService } from './tokens.js';
import type { AuthResult } from './authenticator.js';

export interface OperationContext {
  users: UserStore;
  tokens: TokenService;
  /** The authenticated caller, when the request authenticated. */
  caller?: { username: string; role: string };
}

export interface OperationReply {
  status: number;
  body: unknown;
  /** Why a 401 was returned, for the server's log line only; never sent to the client. */
  reason?: string;
}

const FORBIDDEN: OperationReply = { status: 403, body: { error: 'This operation requires the super_user role' } };
const bad = (error: string): OperationReply => ({ status: 400, body: { error } });
const USER_OPS = new Set(['add_user', 'alter_user', 'drop_user', 'list_users']);

/**
 * True when the caller has the super_user role. Takes either an operation caller
 * (`{ username, role }`) or an AuthResult from `authenticate()`.
 */
export function requireSuperUser(caller: OperationContext['caller'] | AuthResult | undefined): boolean {
  if (!caller) return false;
  if ('ok' in caller) return caller.ok && caller.user.role === 'super_user';
  return caller.role === 'super_user';
}

const show = (u: User) => ({ username: u.username, role: u.role, active: u.active });

/**
 * The user and token operations of SPEC.md section 4. Returns undefined for any other
 * operation. User mistakes are 400s with the reason; hashes never leave the store.
 */
export async function handleAuthOperation(ctx: OperationContext, body: Record<string, unknown>): Promise<OperationReply | undefined> {
  const op = body.operation;
  try {
    switch (op) {
      case 'user_info': {
        if (!ctx.caller) return { status: 401, body: { error: 'Login failed' }, reason: 'user_info: no authenticated caller' };
        const user = await ctx.users.get(ctx.caller.username);
        return user ? { status: 200, body: show(user) } : { status: 401, body: { error: 'Login failed' }, reason: 'user_info: caller no longer exists' };
      }
      case 'create_authentication_tokens': {
        let username: string | undefined;
        if (body.username !== undefined || body.password !== undefined) {
          if (typeof body.username !== 'string' || typeof body.password !== 'string') return bad('"username" and "password" must both be strings');
          username = (await ctx.users.verifyPassword(body.username, body.password))?.username;
        } else username = ctx.caller?.username;
        if (!username) {
          const reason = body.username !== undefined ? 'create_authentication_tokens: wrong password, unknown or inactive user' : 'create_authentication_tokens: no credentials';
          return { status: 401, body: { error: 'Login failed' }, reason };
        }
        return { status: 200, body: await ctx.tokens.createTokens(username) };
      }
      case 'refresh_operation_token': {
        if (typeof body.refresh_token !== 'string') return bad('"refresh_token" (a string) is required');
        const username = await ctx.tokens.verifyRefreshToken(body.refresh_token);
        const user = username ? await ctx.users.get(username) : undefined;
        if (!user || !user.active) {
          const reason = !username ? 'refresh_operation_token: invalid or expired refresh token' : `refresh_operation_token: token user ${user ? 'inactive' : 'unknown'}`;
          return { status: 401, body: { error: 'Login failed' }, reason };
        }
        return { status: 200, body: { operation_token: await ctx.tokens.createOperationToken(user.username) } };
      }
    }
    if (typeof op !== 'string' || !USER_OPS.has(op)) return undefined;
    if (!requireSuperUser(ctx.caller)) return FORBIDDEN;
    switch (op) {
      case 'list_users':
        return { status: 200, body: (await ctx.users.list()).map(show) };
      case 'add_user': {
        const user = await ctx.users.create({ username: body.username as string, password: body.password as string, role: body.role as string, active: body.active as boolean | undefined });
        return { status: 200, body: { message: `${user.username} successfully added` } };
      }
      case 'alter_user': {
        if (typeof body.username !== 'string') return bad('"username" (a string) is required');
        if (body.username === ctx.caller!.username && (body.active === false || (body.role !== undefined && body.role !== 'super_user'))) {
          return bad('you cannot deactivate yourself or remove your own super_user role');
        }
        await ctx.users.alter(body.username, { password: body.password as string | undefined, role: body.role as string | undefined, active: body.active as boolean | undefined });
        return { status: 200, body: { message: `updated ${body.username}` } };
      }
      case 'drop_user': {
        if (typeof body.username !== 'string') return bad('"username" (a string) is required');
        if (body.username === ctx.caller!.username) return bad('you cannot drop yourself');
        await ctx.users.drop(body.username);
        return { status: 200, body: { message: `${body.username} successfully deleted` } };
      }
    }
  } catch (err) {
    // A store that cannot be written (disk full, read-only) is the server's fault, not the request's.
    if (err instanceof AuthError && err.code === 'ERR_AUTH_STORE') return { status: 500, body: { error: err.message } };
    if (err instanceof AuthError) {
      return bad(err.message); // SPEC.md: a request the server cannot carry out is a 400 with the reason
    }
    throw err;
  }
  return undefined;
}
