import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd } from '../helpers/run.js';
import { ADMIN, fresh, op, requestsByWorker, spread, startCluster, until, type Cluster } from './cluster.js';

/**
 * The workers' life (SPEC.md section 8): the Operations API's domain socket served by every
 * worker, /metrics summing all of them, a worker that dies replaced (same index, logged,
 * counted), the CLI and doctor working while it runs, SIGTERM draining in-flight requests.
 */
let c: Cluster;
const socketPath = () => join(c.root, 'hdb', 'ops.sock');

beforeAll(async () => {
  c = await startCluster({
    yaml: (p) => ['http:', `  port: ${p.http}`, `  securePort: ${p.https}`, '  mtls: true', 'operationsApi:', '  network:', `    port: ${p.ops}`, '    domainSocket: hdb/ops.sock'],
  });
}, 120_000);

afterAll(async () => {
  await c?.cleanup();
});

function viaSocket(body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socketPath(), path: '/', method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(ADMIN).toString('base64')}` } }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(t) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Whether a new connection gets an answer to GET /health within 1 s. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('close', () => done(false));
    s.once('data', () => done(true));
    s.once('connect', () => s.write('GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
  });
}

const pids = () => /pids ([\d, ]+)/.exec(c.child.stdout())![1]!.split(', ').map(Number);

describe('threads.count 2: workers', { timeout: 120_000 }, () => {
  it('the domain socket is served by every worker', async () => {
    const rs = await spread(c, 'operations-socket', 16, () => viaSocket({ operation: 'user_info' }));
    expect(rs.map((r) => [r.status, r.body.username])).toEqual(Array(16).fill([200, 'admin']));
  });

  it('/metrics counts every worker: the per-worker series add up to what was sent', async () => {
    const before = await requestsByWorker(c, 'http');
    await Promise.all(Array.from({ length: 20 }, () => fresh({ port: c.ports.http, path: '/health' })));
    const after = await requestsByWorker(c, 'http');
    const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
    expect(sum(after) - sum(before)).toBe(20);
    expect(Object.keys(after).sort()).toEqual(['0', '1']);
    const text = String((await fresh({ port: c.ports.ops, path: '/metrics', auth: ADMIN })).body);
    expect(text).toMatch(/^harper_tls_workers 2$/m);
  });

  it('the CLI and doctor work while the workers run', async () => {
    const out = join(c.root, 'issued');
    mkdirSync(out, { recursive: true });
    expect((await runToEnd(['cert', 'issue', '--root', c.root, '--cn', 'admin', '--out', out], { HARPER_TLS_PROGRESS: '0' })).code).toBe(0);
    const list = await runToEnd(['cert', 'list', '--root', c.root]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('admin');
    const doctor = await runToEnd(['doctor', '--root', c.root, '--cert', join(out, 'admin.pem')]);
    expect(doctor.stdout).toMatch(/accept/i);
    expect(doctor.code).toBe(0);
  });

  it('a worker that dies is replaced with its index, logged and counted; both serve again', async () => {
    // What /metrics said before the death (a scrape: the primary holds these counts of worker 1).
    const before = await requestsByWorker(c, 'http');
    expect(before['1']).toBeGreaterThan(0);
    const [, victim] = pids();
    process.kill(victim!, 'SIGKILL');
    await until(() => /"worker":1,"pid":\d+,"code":null,"signal":"SIGKILL","msg":"worker died; starting a replacement"/.test(c.log()), 'the death to be logged');
    await until(() => (c.log().match(/"worker":1,"pid":\d+,"msg":"worker serving"/g) ?? []).length >= 2, 'the replacement to serve');
    const text = String((await fresh({ port: c.ports.ops, path: '/metrics', auth: ADMIN })).body);
    expect(text).toMatch(/^harper_tls_worker_restarts_total 1$/m);
    const rs = await spread(c, 'http', 16, () => fresh({ port: c.ports.http, path: '/health' }));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    // The dead worker's counts are not lost: its replacement continues its series, and the sum is all that was served.
    const after = await requestsByWorker(c, 'http');
    expect(after['1']).toBeGreaterThan(before['1']!);
    expect(after['0']! + after['1']!).toBe(before['0']! + before['1']! + 16);
    // Log lines of the workers say which worker wrote them.
    expect(c.log()).toMatch(/"worker":0,.*"msg":"operation"|"worker":1,.*"msg":"operation"/);
  });

  it('SIGTERM drains every worker: a request in flight on each finishes, then the process exits 0', async () => {
    // One request per worker, its body half sent: in flight when the signal arrives.
    const inflight = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<{ finish: () => Promise<number> }>((resolve, reject) => {
            const req = http.request({ host: '127.0.0.1', port: c.ports.ops, path: '/', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength('{"operation":"user_info"}')), authorization: `Basic ${Buffer.from(ADMIN).toString('base64')}` } });
            req.on('error', reject);
            const done = new Promise<number>((r, j) => {
              req.on('response', (res) => {
                res.resume();
                res.on('end', () => r(res.statusCode!));
              });
              req.on('error', j);
            });
            req.write('{"operation":', () => resolve({ finish: () => (req.end('"user_info"}'), done) }));
          }),
      ),
    );
    const stats = await requestsByWorker(c, 'operations');
    expect(Object.keys(stats).length).toBe(2);
    c.child.proc.kill('SIGTERM');
    await c.child.waitFor('Received SIGTERM, stopping', 10_000);
    // The listeners close; the requests already in flight are still answered.
    // New connections are no longer served (every worker closed its listeners): the drain is under way.
    await until(async () => !(await answers(c.ports.http)), 'the listeners to close', 8_000);
    expect(await Promise.all(inflight.map((r) => r.finish()))).toEqual([200, 200]);
    expect((await c.child.exited).code).toBe(0);
  });
});
