import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { tempRoot } from '../helpers/run.js';
import { freePorts, keysProblems, kill9, portArgs, randomDelay, runs, spawnCli, startAndStop, type Child, type Ports } from './harness.js';

// Each run restarts a child server (~1 s), so this scenario takes half the runs of the others.
const RUNS = Math.max(1, Math.ceil(runs(20) / 2));
const ADMIN = { HDB_ADMIN_USERNAME: 'admin', HDB_ADMIN_PASSWORD: 'admin-pw' };

/** POST / on the Operations API with Basic auth; resolves with status and body, or `undefined` when the connection died. */
function operation(port: number, body: object): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', auth: 'admin:admin-pw', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end(data);
  });
}

describe(`kill -9 while the server handles add_certificate (${RUNS} runs)`, () => {
  const { root, cleanup } = tempRoot();
  const certs: string[] = [];
  const keys: string[] = [];
  /** Every other run adds a server certificate with its private key: a key file and a record. */
  const body = (i: number) => (i % 2 ? { operation: 'add_certificate', name: `add${i}`, certificate: certs[i], private_key: keys[i], hosts: [`add${i}.test`] } : { operation: 'add_certificate', name: `add${i}`, certificate: certs[i], is_authority: true });
  let ports: Ports;
  let server: Child | undefined;

  async function startServer(): Promise<Child> {
    const c = spawnCli(['start', '--root', root, ...portArgs(ports)], ADMIN);
    await c.waitFor('operations ');
    return c;
  }

  beforeAll(async () => {
    ports = await freePorts();
    expect((await startAndStop(root, ADMIN)).code).toBe(0);
    for (let i = 0; i < RUNS; i++) {
      const c = join(root, `add${i}.pem`);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=add${i}`, '-addext', `subjectAltName=DNS:add${i}.test`, '-days', '30', '-keyout', join(root, `add${i}-key.pem`), '-out', c], { stdio: 'ignore' });
      certs.push(readFileSync(c, 'utf8'));
      keys.push(readFileSync(join(root, `add${i}-key.pem`), 'utf8'));
    }
  });
  afterAll(async () => {
    if (server) await kill9(server);
    cleanup();
  });

  it('keeps every acknowledged certificate and the admin user, and restarts cleanly every time', async () => {
    const acknowledged: string[] = [];
    const failures: string[] = [];
    // The kill window is twice one acknowledged add_certificate, so kills land before, during and after the write.
    server = await startServer();
    const t0 = Date.now();
    expect((await operation(ports.ops, { operation: 'add_certificate', name: 'calibrate', certificate: certs[0], is_authority: true }))?.status).toBe(200);
    const maxDelayMs = Math.max(10, 2 * (Date.now() - t0));
    await kill9(server);
    for (let i = 0; i < RUNS; i++) {
      server = await startServer();
      const delay = randomDelay(maxDelayMs);
      const pending = operation(ports.ops, body(i));
      await new Promise((r) => setTimeout(r, delay));
      await kill9(server);
      server = undefined;
      const res = await pending;
      if (res?.status === 200) acknowledged.push(`add${i}`);
      else if (res !== undefined) failures.push(`run ${i}: add_certificate answered ${res.status} ${res.body}`);
      const problems = keysProblems(root);
      if (problems.length) failures.push(`run ${i} (kill at ${delay} ms): ${problems.join('; ')}`);
    }

    server = await startServer();
    const whoami = await operation(ports.ops, { operation: 'user_info' });
    expect(whoami?.status).toBe(200);
    const listed = await operation(ports.ops, { operation: 'list_certificates' });
    expect(listed?.status).toBe(200);
    const names = new Set((JSON.parse(listed!.body) as Array<{ name: string }>).map((c) => c.name));
    expect(names.has('calibrate')).toBe(true);
    for (const name of acknowledged) if (!names.has(name)) failures.push(`${name} was acknowledged (200) but is gone after the restart`);
    // Every served run-time certificate came back with its own key (init reads each record's key
    // file), no key file is left that no record names, and no private key is in the database.
    const keyDir = join(root, 'keys', 'runtime');
    const keyFiles = existsSync(keyDir) ? readdirSync(keyDir).filter((f) => f.endsWith('-key.pem')) : [];
    const served = [...names].filter((n) => /^add\d*[13579]$/.test(n));
    expect(keyFiles.length).toBe(served.length);
    for (const n of served) expect(keyFiles.some((f) => f.startsWith(`${n}-`))).toBe(true);
    expect(readFileSync(join(root, 'database', 'server.mdb')).includes('PRIVATE KEY')).toBe(false);
    // A certificate added after all the kills is accepted too: the store is still writable.
    const last = await operation(ports.ops, { operation: 'add_certificate', name: 'after', certificate: certs[0], is_authority: true });
    expect(last?.status).toBe(200);
    await kill9(server);
    server = undefined;

    expect(failures).toEqual([]);
    console.log(`add_certificate: ${RUNS} runs (kill window 0-${maxDelayMs} ms), ${acknowledged.length} acknowledged before the kill, ${failures.length} failures`);
  }, 300_000); // bounded by its run count; the limit only guards a hang (a busy 2-core machine runs the kills slowly)
});
