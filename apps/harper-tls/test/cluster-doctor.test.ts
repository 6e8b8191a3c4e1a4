import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, freePort, run, runToEnd, tempRoot } from './helpers/run.js';
import { ADMIN, basic, get, op, startCluster, until, writeNodeConfig, type ClusterNode } from './helpers/cluster-nodes.js';
import type { Engine } from '../../../packages/store/test/helpers/postgres.js';

/**
 * The CLI on a cluster node's root (SPEC.md section 10): `doctor`, `cert issue/list/revoke` and
 * `crl` work on the shared records in the engine (a real PostgreSQL over mTLS), not on the
 * node's local store. Three nodes run.
 */
const temp = tempRoot();
let nodes: ClusterNode[];
let engine: Engine;

beforeAll(async () => {
  ({ nodes, engine } = await startCluster(temp.root, ['node-a', 'node-b', 'node-c']));
  for (const n of nodes) {
    n.server = run(['start', '--root', n.root], ADMIN);
    await n.server.waitFor('operations ', 60_000);
  }
}, 180_000);

afterAll(async () => {
  for (const n of nodes ?? []) await n.server?.stop();
  await engine?.stop();
  temp.cleanup();
});

const doctor = (root: string, cert: string) => runToEnd(['doctor', '--root', root, '--cert', cert]);
const mtlsWhoami = (n: ClusterNode, dir: string, name: string) =>
  curl(['--cacert', join(nodes[0]!.root, 'keys', 'ca.pem'), '--cert', join(dir, `${name}.pem`), '--key', join(dir, `${name}-key.pem`), `https://localhost:${n.ports.https}/whoami`]);

describe('the CLI on a cluster node root reads and writes the shared records', () => {
  it('doctor on C reports a user added through the Operations API on A (before: does not exist)', async () => {
    const [a, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const out = join(temp.root, 'dora');
    expect((await runToEnd(['cert', 'issue', '--root', a.root, '--cn', 'dora', '--out', out])).code).toBe(0);
    const before = await doctor(c.root, join(out, 'dora.pem'));
    expect(before.code).toBe(2);
    expect(before.stdout).toMatch(/user: "dora" does not exist/);
    expect(before.stdout).toMatch(/the local CA's records/);
    expect((await op(a, { operation: 'add_user', username: 'dora', password: 'dora-pw', role: 'reader', active: true })).status).toBe(200);
    const after = await doctor(c.root, join(out, 'dora.pem'));
    expect(after.stdout).toMatch(/revocation: "CN=dora" is good — the local CA's records/);
    expect(after.stdout).toMatch(/ACCEPTED as user "dora" \(role reader\)/);
    expect(after.code).toBe(0);
    expect((await runToEnd(['cert', 'list', '--root', c.root, '--json'])).stdout).toMatch(/"dora"/);
  });

  it('a certificate revoked on B (Operations API) is reported revoked by doctor on A', async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const out = join(temp.root, 'dora');
    const pem = readFileSync(join(out, 'dora.pem'), 'utf8');
    expect((await op(b, { operation: 'revoke_certificate', certificate: pem, reason: 'keyCompromise' })).status).toBe(200);
    const r = await doctor(a.root, join(out, 'dora.pem'));
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/revocation: "CN=dora" is revoked \(keyCompromise\) — the local CA's records/);
    expect(r.stdout).toMatch(/REJECTED: the certificate "CN=dora" is revoked/);
  });

  it('cert issue / list / revoke and crl on the root of C act on the shared records: A and B see them', async () => {
    const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const out = join(temp.root, 'eve');
    const issued = await runToEnd(['cert', 'issue', '--root', c.root, '--cn', 'eve', '--out', out]);
    expect(issued.code).toBe(0);
    const serial = /serial ([0-9a-f]+)/.exec(issued.stdout)![1]!;
    expect(engine.psql(`SELECT count(*) FROM harper_tls_records WHERE ns = 'local-ca' AND key LIKE 'issued:%${serial}%'`)).toBe('1');
    expect((await runToEnd(['cert', 'list', '--root', a.root])).stdout).toContain(serial);
    expect((await op(a, { operation: 'add_user', username: 'eve', password: 'eve-pw', role: 'reader', active: true })).status).toBe(200);
    await until('eve on B by her certificate', async () => (await mtlsWhoami(b, out, 'eve')).status === 200);
    const revoked = await runToEnd(['cert', 'revoke', '--root', c.root, '--serial', serial, '--reason', 'superseded']);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`Revoked serial ${serial}`));
    await until('eve refused on A and B', async () => (await mtlsWhoami(a, out, 'eve')).status === 401 && (await mtlsWhoami(b, out, 'eve')).status === 401);
    expect((await runToEnd(['cert', 'list', '--root', b.root, '--json'])).stdout).toMatch(/"revoked"/);
    // The one CRL: C's `crl` writes the bytes A and B serve.
    const file = join(temp.root, 'c.crl');
    expect((await runToEnd(['crl', '--root', c.root, '--out', file])).code).toBe(0);
    const fromC = readFileSync(file);
    await until('the CRL served by A and B is the one C wrote', async () => (await get(a, '/ca/crl')).bytes.equals(fromC) && (await get(b, '/ca/crl')).bytes.equals(fromC));
  });

  it('doctor with the engine unreachable says which engine and what failed, still reports the local checks, exits 3', async () => {
    const [, , c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const cert = join(temp.root, 'dora', 'dora.pem');
    // A refused connection: C's root pointed at a port where nothing listens.
    const closed = await freePort();
    writeNodeConfig(c, closed);
    try {
      const r = await doctor(c.root, cert);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(new RegExp(`✘ cluster: cannot reach the cluster engine at 127\\.0\\.0\\.1:${closed}/harper_tls as harper_tls: .*ECONNREFUSED`));
      expect(r.stdout).toMatch(/✔ trust: "CN=dora" → .*\(trusted: tls\.certificateAuthority\)/);
      expect(r.stdout).toMatch(/revocation: not checked \(the local CA's records and the revocation cache are in the cluster engine, which did not answer\)/);
      expect(r.stdout).toMatch(/user: "dora" not checked/);
      expect(r.stdout).toMatch(/UNDETERMINED: the cluster engine could not be read/);
      // The CLI that writes the shared records needs the engine: one clear line, nothing changed.
      for (const argv of [['cert', 'list'], ['cert', 'issue', '--cn', 'nobody', '--out', join(temp.root, 'nobody')], ['crl']]) {
        const t = await runToEnd([...argv, '--root', c.root]);
        expect(t.code).toBe(1);
        expect(t.stderr).toMatch(new RegExp(`^harper-tls ${argv[0]}.*: cluster: cannot reach the cluster engine at 127\\.0\\.0\\.1:${closed}/harper_tls as harper_tls: .*ECONNREFUSED`));
        expect(t.stderr).not.toMatch(/\n\s+at /);
      }
      expect(existsSync(join(temp.root, 'nobody', 'nobody-key.pem'))).toBe(false);
      // C's last-known state came from the other engine address: not used for this one.
      expect(r.stdout).toMatch(/not a usable last-known cluster state \(saved from the engine 127\.0\.0\.1:\d+\/harper_tls, this node's is 127\.0\.0\.1:\d+\/harper_tls\)/);
    } finally {
      writeNodeConfig(c, engine.port);
    }
    // A stalled engine (SIGSTOP): the doctor gives up after its bound, saying so.
    engine.pause();
    try {
      const t0 = Date.now();
      const r = await doctor(c.root, cert);
      expect(r.code).toBe(3);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(r.stdout).toMatch(new RegExp(`✘ cluster: .*127\\.0\\.0\\.1:${engine.port}/harper_tls`));
      // The node's own last-known state answers what the engine cannot: dora's revocation, as C serves it now.
      expect(r.stdout).toMatch(/the checks below use this node's last-known state instead \(.*cluster-state\.json, saved \S+, version \d+\)/);
      expect(r.stdout).toMatch(/revocation: "CN=dora" is revoked \(keyCompromise\) — the local CA's records/);
      expect(r.stdout).toMatch(/UNDETERMINED: the cluster engine could not be read \(.*\)\. The checks that could be made found: the certificate "CN=dora" is revoked/);
    } finally {
      engine.resume();
    }
    // Back: the verdict again (dora is revoked).
    await until('doctor answers again', async () => (await doctor(c.root, cert)).code === 2);
    void basic;
  });
});
