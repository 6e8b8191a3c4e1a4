// The module of the module benchmark: a WHATWG fetch handler answering the same bytes as bare-server.mjs.
const body = JSON.stringify({ username: 'bench', role: 'super_user', authenticatedBy: 'mtls' });
export function fetch() {
  return new Response(body, { headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) } });
}
