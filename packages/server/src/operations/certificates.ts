import type { CertificateRegistry } from '../certificates/registry.js';
import { ServerError } from '../errors.js';
import { FORBIDDEN, isSuperUser, type OperationHandler } from './types.js';

/** add_certificate, remove_certificate, list_certificates (SPEC.md section 4); super_user only. */
export function certificateOperations(registry: CertificateRegistry): OperationHandler {
  return async (body, caller) => {
    const op = body.operation;
    if (op !== 'add_certificate' && op !== 'remove_certificate' && op !== 'list_certificates') return undefined;
    if (!isSuperUser(caller)) return FORBIDDEN;
    try {
      if (op === 'list_certificates') return { status: 200, body: registry.list() };
      if (op === 'add_certificate') {
        const { name, replaced } = await registry.add(body);
        return { status: 200, body: { message: `Successfully ${replaced ? 'replaced' : 'added'} certificate: ${name}`, name } };
      }
      const name = body.name;
      if (typeof name !== 'string' || name.length === 0) return { status: 400, body: { error: '"name" (a string) is required' } };
      await registry.remove(name);
      return { status: 200, body: { message: `Successfully removed certificate: ${name}`, name } };
    } catch (err) {
      // A store that cannot be written (disk full, read-only) is the server's fault, not the request's.
      if (err instanceof ServerError && err.code === 'ERR_SERVER_DATABASE') return { status: 500, body: { error: err.message } };
      if (err instanceof ServerError) return { status: 400, body: { error: err.message } };
      throw err;
    }
  };
}
