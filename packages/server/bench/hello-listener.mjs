// The same answer as a Node request listener (`export default (req, res)`).
const body = JSON.stringify({ username: 'bench', role: 'super_user', authenticatedBy: 'mtls' });
export default (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
