// Intermediate servers between the bare Node https server and the full harper-tls server, to
// find where harper-tls's extra cost per handshake / per request comes from (bench/bisect.mjs):
//   harper-noauth: HarperServer (TlsContextSet with SNICallback, request id,
//                  routing, sendJson) with an authenticate() that answers ok at once
//   harper-mtls:   + @harper-tls/mtls-auth createAuthenticator (chain check, CN, user lookup),
//                  no revocation
// (the full server, with revocation and metrics, is harper-server.mjs)
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createAuthenticator, createTokenService } from '@harper-tls/mtls-auth';

const cfg = JSON.parse(process.argv[2]);
// cfg.module: another build of @harper-tls/server (a bench/snapshot.mjs snapshot).
const { HarperServer, TlsContextSet, buildEntry, createLogger, openUserStore } = await import(cfg.module ?? '@harper-tls/server');
const entry = buildEntry({ certPem: readFileSync(cfg.cert, 'utf8'), keyPem: readFileSync(cfg.key, 'utf8'), caPem: readFileSync(cfg.ca, 'utf8'), name: 'bench' });
const contexts = new TlsContextSet({ entries: [entry], defaultIndex: 0 });
const mtls = { required: true, user: { kind: 'cn' }, certificateVerification: false };
const user = { username: 'bench', role: 'super_user', active: true };
let authenticate = async () => ({ ok: true, user, method: 'mtls' });
let cleanup = async () => {};
if (cfg.variant === 'harper-mtls') {
  const dir = mkdtempSync(join(tmpdir(), 'harper-bench-users-'));
  const users = await openUserStore({ path: join(dir, 'users.mdb') });
  await users.create({ username: 'bench', password: 'bench-pw', role: 'super_user', active: true });
  const tokens = createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 60_000, refreshTokenTimeoutMs: 120_000 });
  const auth = createAuthenticator({ users, tokens, mtls, trustedCas: [new X509Certificate(readFileSync(cfg.ca))] });
  authenticate = (req) => auth.authenticate(req);
  cleanup = async () => {
    await users.close();
    rmSync(dir, { recursive: true, force: true });
  };
}
const server = new HarperServer({
  logger: createLogger({ level: 'error' }),
  host: '127.0.0.1',
  listeners: [{ name: 'https', api: 'app', port: 0, tls: { contexts, mtls }, authenticate }],
  operations: [],
});
const [info] = await server.listen();
process.stdout.write(JSON.stringify({ port: info.port }) + '\n');
process.on('SIGTERM', () => server.close().then(cleanup).then(() => process.exit(0)));
