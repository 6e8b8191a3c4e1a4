import { execFile } from 'node:child_process';
import { connect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HarperServer, type AuthOutcome } from '../../src/server.js';
import { TlsContextSet } from '../../src/tls/context-set.js';
import { DEFAULT_CIPHERS } from '../../src/tls/defaults.js';
import { buildEntry } from '../../src/tls/material.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { memoryLogger } from '../helpers/logger.js';
import { sClient } from '../helpers/s-client.js';

const execFileP = promisify(execFile);

/**
 * The defaults of every secure listener, checked with openssl s_client against a real
 * HarperServer on 127.0.0.1: Mozilla "intermediate" ciphers (no CBC, CCM, ARIA, static RSA),
 * TLS 1.2 minimum, client-initiated renegotiation refused, the session lifetime hint.
 */
describe('secure listener TLS defaults', () => {
  const { logger } = memoryLogger('warn');
  let pki: TestPki;
  const servers: HarperServer[] = [];
  const authenticate = async (): Promise<AuthOutcome> => ({ ok: true, user: { username: 'root', role: 'super_user' }, method: 'basic' });

  async function start(entries: Array<{ ciphers?: string; sessionTimeout?: number; leaf?: string; hosts?: string[] }> = [{}]): Promise<number> {
    const loaded = entries.map((e, i) => buildEntry({ certPem: pki.read(`${e.leaf ?? 'ec'}.pem`), keyPem: pki.read(`${e.leaf ?? 'ec'}.key`), hosts: e.hosts, ciphers: e.ciphers, sessionTimeout: e.sessionTimeout, name: `tls[${i}]` }));
    const contexts = new TlsContextSet({ entries: loaded, defaultIndex: 0 }, 'https');
    const server = new HarperServer({ logger, host: '127.0.0.1', listeners: [{ name: 'https', api: 'app', port: 0, tls: { contexts, mtls: false }, authenticate }], operations: [] });
    servers.push(server);
    return (await server.listen())[0]!.port;
  }

  let port: number;
  beforeAll(async () => {
    pki = createTestPki();
    pki.ca('ca');
    pki.leaf('ec', 'ca', { cn: 'localhost', sans: 'DNS:localhost,DNS:b.example' });
    port = await start();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    pki.cleanup();
  });

  /** [protocol, cipher] of a handshake, or undefined when none was agreed. */
  const negotiated = (out: string) => {
    const cipher = /Cipher is (\S+)/.exec(out)?.[1];
    return cipher && cipher !== '(NONE)' ? [/Protocol\s*:\s*(\S+)/.exec(out)?.[1], cipher] : undefined;
  };

  it.each([
    ['ECDHE-ECDSA-AES128-SHA', 'CBC (testssl: "obsolete CBC", LUCKY13)'],
    ['ECDHE-ECDSA-AES256-SHA384', 'CBC with SHA-384'],
    ['ECDHE-ECDSA-AES128-CCM', 'CCM'],
    ['ECDHE-ECDSA-ARIA128-GCM-SHA256', 'ARIA'],
    ['ECDHE-ECDSA-CAMELLIA128-SHA256', 'Camellia'],
  ])('TLS 1.2 with %s (%s) is refused', async (cipher) => {
    const r = await sClient(port, ['-tls1_2', '-cipher', cipher]);
    expect(negotiated(r.output)).toBeUndefined();
    expect(r.output).toMatch(/handshake failure/);
  });

  it('TLS 1.2 accepts only the intermediate suites (every ECDSA and anonymous suite of openssl tried); TLS 1.3 works; TLS 1.1 is refused', async () => {
    // Every TLS 1.2 suite an EC certificate (or none) could serve, one handshake each: only the profile's pass.
    const { stdout } = await execFileP('openssl', ['ciphers', '-tls1_2', 'aECDSA:aNULL:@SECLEVEL=0']);
    const all = stdout.trim().split(':').filter((c) => !c.startsWith('TLS_'));
    expect(all.length).toBeGreaterThan(25);
    const accepted: string[] = [];
    for (const cipher of all) {
      const r = await sClient(port, ['-tls1_2', '-cipher', `${cipher}:@SECLEVEL=0`]);
      if (negotiated(r.output)) accepted.push(cipher);
    }
    expect(accepted.sort()).toEqual(['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']);
    expect(negotiated((await sClient(port, ['-tls1_3'])).output)?.[0]).toBe('TLSv1.3');
    const eleven = await sClient(port, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
    expect(negotiated(eleven.output)).toBeUndefined();
    expect(eleven.output).toMatch(/protocol version/);
  });

  it('the default is exactly Mozilla intermediate 6.0', () => {
    expect(DEFAULT_CIPHERS.split(':')).toEqual([
      'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
      'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
    ]);
  });

  it('tls.ciphers overrides the default (a CBC suite, when asked for, is served)', async () => {
    const p = await start([{ ciphers: 'ECDHE-ECDSA-AES128-SHA' }]);
    expect(negotiated((await sClient(p, ['-tls1_2'])).output)).toEqual(['TLSv1.2', 'ECDHE-ECDSA-AES128-SHA']);
    // A list without TLS_ names keeps Node's TLS 1.3 suites.
    expect(negotiated((await sClient(p, ['-tls1_3'])).output)?.[0]).toBe('TLSv1.3');
  });

  it('client-initiated renegotiation (openssl s_client, "R") is refused with a no_renegotiation alert; the server carries on', async () => {
    const r = await sClient(port, ['-tls1_2'], { input: 'R\n', keepOpenFor: /no renegotiation|RENEGOTIATING[\s\S]*(error|alert)/ });
    expect(r.output).toContain('RENEGOTIATING');
    expect(r.output).toMatch(/no renegotiation/);
    expect(negotiated((await sClient(port, ['-tls1_2'])).output)?.[0]).toBe('TLSv1.2');
  });

  it('a Node client asking to renegotiate gets an error, every time (no CLIENT_RENEG_LIMIT allowance)', async () => {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, servername: 'localhost', maxVersion: 'TLSv1.2', ca: pki.read('ca.pem') }, () => resolve(s)).on('error', reject);
    });
    const attempt = () => new Promise<Error | null>((resolve) => {
      socket.once('error', (e) => resolve(e));
      socket.renegotiate({}, (err) => resolve(err));
    });
    const err = await attempt();
    expect(err?.message ?? '').toMatch(/renegotiation/i);
    socket.destroy();
  });

  async function ticketHint(p: number, version: '-tls1_2' | '-tls1_3', servername = 'localhost'): Promise<number> {
    const file = `${pki.dir}/sess-${p}${version}${servername}.pem`;
    const r = await sClient(p, [version, '-servername', servername, '-sess_out', file, '-ign_eof'], { input: 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' });
    expect(r.output).toContain('{"status":"ok"}');
    const { stdout } = await execFileP('openssl', ['sess_id', '-in', file, '-noout', '-text']);
    return Number(/ticket lifetime hint: (\d+)/.exec(stdout)?.[1]);
  }

  it('session ticket lifetime hint: 300 s by default, tls.sessionTimeout when set (TLS 1.2 and 1.3, every SNI entry)', async () => {
    expect(await ticketHint(port, '-tls1_2')).toBe(300);
    expect(await ticketHint(port, '-tls1_3')).toBe(300);
    const p = await start([{ sessionTimeout: 900 }, { leaf: 'ec', hosts: ['b.example'] }]);
    expect(await ticketHint(p, '-tls1_2')).toBe(900);
    expect(await ticketHint(p, '-tls1_3')).toBe(900);
    expect(await ticketHint(p, '-tls1_3', 'b.example')).toBe(900);
  });
});
