// Keep-alive requests/s through each framework with and without the mtls adapter in front
// (revocation off, default users), same certificates, same run; the server runs in a child
// process so the load generator does not share its event loop. Scenarios alternate
// (bare, mtls, mtls, bare) and the better run of each counts.
// Usage: pnpm run bench:adapters   (BENCH_SECONDS default 3, BENCH_CONCURRENCY default 16)
import { fork } from 'node:child_process';
import { request, Agent, createServer } from 'node:https';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function serve(framework, withMtls, tls) {
  const options = { key: tls.serverKey, cert: tls.serverCert, ca: [tls.ca], requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 60_000 };
  const ready = (port) => process.send({ port });
  if (framework === 'express') {
    const { default: express } = await import('express');
    const app = express();
    if (withMtls) app.use((await import('../dist/adapters/express.js')).mtls());
    app.get('/', (req, res) => res.json({ user: req.user?.username ?? null }));
    const server = createServer(options, app);
    server.listen(0, '127.0.0.1', () => ready(server.address().port));
  } else if (framework === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ https: options });
    if (withMtls) await app.register((await import('../dist/adapters/fastify.js')).mtls);
    app.get('/', async (request) => ({ user: request.user?.username ?? null }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    ready(app.server.address().port);
  } else {
    const { default: Koa } = await import('koa');
    const app = new Koa();
    if (withMtls) app.use((await import('../dist/adapters/koa.js')).mtls());
    app.use((ctx) => void (ctx.body = { user: ctx.state.user?.username ?? null }));
    const server = createServer(options, app.callback());
    server.listen(0, '127.0.0.1', () => ready(server.address().port));
  }
}

async function load(port, tls, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: [tls.ca], key: tls.aliceKey, cert: tls.aliceCert });
    while (Date.now() < deadline) {
      const status = await new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port, servername: 'localhost', path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.setTimeout(5000, () => req.destroy());
        req.on('error', () => resolve(0));
        req.end();
      });
      if (status === 200) ok++;
      else failed++;
    }
    agent.destroy();
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { rps: ok / (Number(process.hrtime.bigint() - t0) / 1e9), ok, failed };
}

async function scenario(framework, withMtls, tls) {
  const child = fork(new URL(import.meta.url), ['server', framework, String(withMtls), JSON.stringify(tls)], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  await load(port, tls, 1); // warm-up, discarded
  const r = await load(port, tls, SECONDS);
  await new Promise((resolve) => (child.once('exit', resolve), child.kill()));
  return r;
}

if (process.argv[2] === 'server') {
  await serve(process.argv[3], process.argv[4] === 'true', JSON.parse(process.argv[5]));
} else {
  const { createCA, issueCertificate } = await import('@harper-tls/cert-gen');
  const ca = await createCA({ commonName: 'Bench CA' });
  const server = await issueCertificate({ ca, kind: 'server', commonName: 'localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
  const alice = await issueCertificate({ ca, kind: 'client', commonName: 'alice' });
  const tls = { ca: ca.certificatePem, serverKey: server.privateKeyPem, serverCert: server.certificatePem, aliceKey: alice.privateKeyPem, aliceCert: alice.certificatePem };
  const best = (a, b) => (a.rps >= b.rps ? a : b);
  console.log(`date: ${new Date().toISOString()}, node ${process.version}, ${SECONDS} s per run, ${CONCURRENCY} keep-alive connections, best of 2 (bare, mtls, mtls, bare)\n`);
  console.log('| framework | bare requests/s | with mtls() requests/s | ratio | failed |');
  console.log('|---|---:|---:|---:|---:|');
  // The adapter's own per-request cost, measured inside a request on a verified keep-alive
  // connection: createMtlsCore().decide(req) in a loop (what every adapter calls per request).
  {
    const { createMtlsCore } = await import('../dist/index.js');
    const core = createMtlsCore();
    const perCall = await new Promise((resolve, reject) => {
      const srv = createServer({ key: tls.serverKey, cert: tls.serverCert, ca: [tls.ca], requestCert: true, rejectUnauthorized: false }, async (req, res) => {
        await core.decide(req); // first: the connection's evaluation
        const n = 200_000;
        let sink = 0;
        const t = process.hrtime.bigint();
        for (let i = 0; i < n; i++) sink += core.decide(req).ok ? 1 : 0;
        const ns = Number(process.hrtime.bigint() - t) / n;
        // Baseline, same request: one WeakMap lookup keyed on the socket, the least a per-connection cache costs.
        const wm = new WeakMap([[req.socket, { ok: true }]]);
        const t2 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) sink += wm.get(req.socket).ok ? 1 : 0;
        const base = Number(process.hrtime.bigint() - t2) / n;
        res.end(String(sink));
        srv.close();
        resolve([ns, base]);
      });
      srv.listen(0, '127.0.0.1', () => {
        const r = request({ host: '127.0.0.1', port: srv.address().port, servername: 'localhost', ca: [tls.ca], key: tls.aliceKey, cert: tls.aliceCert, agent: false }, (res) => res.resume());
        r.on('error', reject);
        r.end();
      });
    });
    console.log(`decide(req) on a verified connection (default users, revocation off): ${perCall[0].toFixed(0)} ns per call; one WeakMap lookup on req.socket: ${perCall[1].toFixed(0)} ns\n`);
  }
  for (const fw of ['express', 'fastify', 'koa']) {
    const b1 = await scenario(fw, false, tls);
    const m1 = await scenario(fw, true, tls);
    const m2 = await scenario(fw, true, tls);
    const b2 = await scenario(fw, false, tls);
    const bare = best(b1, b2);
    const mtls = best(m1, m2);
    console.log(`| ${fw} | ${bare.rps.toFixed(0)} | ${mtls.rps.toFixed(0)} | ${(mtls.rps / bare.rps).toFixed(2)} | ${bare.failed + mtls.failed} |`);
  }
}
