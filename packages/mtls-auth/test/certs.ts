import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';

/** A key pair and certificate in PEM, as made by the openssl CLI. */
export interface Pem {
  key: string;
  cert: string;
  x509: X509Certificate;
}

const DAY = 86_400_000;
const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';

function run(args: string[], cwd: string) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function ecKey(dir: string, name: string): string {
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  return join(dir, `${name}.key`);
}

/** A self-signed CA through `openssl req -x509`. */
function makeCa(dir: string, name: string, cn: string): Pem {
  ecKey(dir, name);
  run(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', '30', '-out', `${name}.crt`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const cert = readFileSync(join(dir, `${name}.crt`), 'utf8');
  return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert, x509: new X509Certificate(cert) };
}

let counter = 0;

/**
 * A leaf issued by `caName` through `openssl ca` (which, unlike `x509 -req`, takes explicit
 * start and end dates, and keeps the subject exactly as requested with -preserveDN).
 */
function makeLeaf(dir: string, caName: string, name: string, subj: string, opts: { eku?: string; start?: Date; end?: Date; san?: string; multi?: boolean; ca?: boolean } = {}): Pem {
  ecKey(dir, name);
  const reqArgs = ['req', '-new', '-utf8', '-key', `${name}.key`, '-subj', subj, '-out', `${name}.csr`];
  if (opts.multi) reqArgs.push('-multivalue-rdn');
  run(reqArgs, dir);
  const ext = opts.ca ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'] : [`basicConstraints=CA:FALSE`, `keyUsage=critical,digitalSignature`, `extendedKeyUsage=${opts.eku ?? 'clientAuth'}`];
  if (opts.san) ext.push(`subjectAltName=${opts.san}`);
  writeFileSync(join(dir, `${name}.ext`), ext.join('\n') + '\n');
  const db = `${caName}-${++counter}`;
  writeFileSync(join(dir, `${db}.index`), '');
  writeFileSync(join(dir, `${db}.cnf`), [
    '[ca]', 'default_ca = CA_default', '[CA_default]', `database = ${db}.index`, `new_certs_dir = .`, `serial = ${db}.serial`,
    'default_md = sha256', 'policy = policy_any', 'unique_subject = no', 'email_in_dn = no', 'string_mask = utf8only',
    '[policy_any]', 'commonName = optional',
  ].join('\n') + '\n');
  writeFileSync(join(dir, `${db}.serial`), (1000 + counter).toString(16).padStart(4, '0') + '\n');
  const start = opts.start ?? new Date(Date.now() - DAY);
  const end = opts.end ?? new Date(Date.now() + 10 * DAY);
  run(['ca', '-batch', '-notext', '-utf8', '-preserveDN', '-config', `${db}.cnf`, '-cert', `${caName}.crt`, '-keyfile', `${caName}.key`, '-in', `${name}.csr`, '-out', `${name}.crt`,
    '-startdate', stamp(start), '-enddate', stamp(end), '-extfile', `${name}.ext`], dir);
  const cert = readFileSync(join(dir, `${name}.crt`), 'utf8');
  return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert, x509: new X509Certificate(cert) };
}

export interface TestPki {
  dir: string;
  caA: Pem;
  caB: Pem;
  server: Pem;
  serverB: Pem;
  alice: Pem;
  bob: Pem;
  unknown: Pem;
  twoCns: Pem;
  noCn: Pem;
  commaCn: Pem;
  expired: Pem;
  notYet: Pem;
  serverAuthOnly: Pem;
  jorg: Pem;
  untrustedAlice: Pem;
  spiffe: Pem;
  /** An intermediate CA under CA A, and CN=dave issued by it. */
  inter: Pem;
  dave: Pem;
}

/** Every certificate the tests need, made with the openssl CLI in a fresh temp dir (~2 s). */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-auth-pki-'));
  const caA = makeCa(dir, 'caA', 'Test CA A');
  const caB = makeCa(dir, 'caB', 'Test CA B');
  const leaf = (name: string, subj: string, o?: Parameters<typeof makeLeaf>[4]) => makeLeaf(dir, 'caA', name, subj, o);
  return {
    dir,
    caA,
    caB,
    server: leaf('server', '/CN=localhost', { eku: 'serverAuth', san: 'DNS:localhost,IP:127.0.0.1' }),
    serverB: makeLeaf(dir, 'caB', 'serverB', '/CN=localhost', { eku: 'serverAuth', san: 'DNS:localhost,IP:127.0.0.1' }),
    alice: leaf('alice', '/CN=alice/O=Example'),
    bob: leaf('bob', '/CN=bob'),
    unknown: leaf('unknown', '/CN=mallory'),
    twoCns: leaf('twocns', '/CN=alice/CN=bob'),
    noCn: leaf('nocn', '/O=No Common Name'),
    commaCn: leaf('comma', '/CN=alice\\, O=x\\=y'),
    expired: leaf('expired', '/CN=alice', { start: new Date(Date.now() - 20 * DAY), end: new Date(Date.now() - DAY) }),
    notYet: leaf('notyet', '/CN=alice', { start: new Date(Date.now() + DAY), end: new Date(Date.now() + 20 * DAY) }),
    serverAuthOnly: leaf('srvonly', '/CN=alice', { eku: 'serverAuth' }),
    jorg: leaf('jorg', '/CN=jörg'),
    untrustedAlice: makeLeaf(dir, 'caB', 'ualice', '/CN=alice'),
    inter: leaf('inter', '/CN=Test Intermediate', { ca: true }),
    dave: makeLeaf(dir, 'inter', 'dave', '/CN=dave'),
    spiffe: leaf('spiffe', '/O=Workload', { san: 'URI:spiffe://example.org/user/alice' }),
  };
}
