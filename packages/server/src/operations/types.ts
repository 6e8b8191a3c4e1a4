/** The authenticated caller of an operation, when there is one. */
export interface Caller {
  username: string;
  role: string;
  /** `local`: `authentication.authorizeLocal` (a local request without credentials). */
  method: 'mtls' | 'basic' | 'jwt' | 'local';
}

export interface OperationResult {
  status: number;
  body: unknown;
  /** Why a 401 was returned: logged in the request's `authentication failed` line, never sent. */
  reason?: string;
}

/**
 * One family of operations. Returns undefined when `body.operation` is not one of its own,
 * so the dispatcher can try the next. Throwing is a bug (500); user mistakes are 400 results.
 */
export type OperationHandler = (body: Record<string, unknown>, caller: Caller | undefined) => Promise<OperationResult | undefined>;

export function isSuperUser(caller: Caller | undefined): boolean {
  return caller?.role === 'super_user';
}

export const FORBIDDEN: OperationResult = { status: 403, body: { error: 'This operation requires the super_user role' } };
