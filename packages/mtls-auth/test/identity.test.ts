import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { compileSanMapping, createAuthenticator, createTokenService, sanEntries, subjectCommonNames, usernameFromCertificate, type UserStore } from '../src/index.js';
import { makePki, type TestPki } from './certs.js';

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

/** Replaces `from` by `to` (same length) inside the DER; the signature breaks, the parser must not care. */
function patch(der: Buffer, from: string, to: Buffer): Uint8Array {
  const out = Buffer.from(der);
  const at = out.indexOf(Buffer.from(from));
  if (at < 0 || to.length !== from.length) throw new Error('patch target not found');
  to.copy(out, at);
  return new Uint8Array(out);
}

describe('subject CN from DER', () => {
  it('reads one CN exactly, several or none as no user', () => {
    expect(usernameFromCertificate(new Uint8Array(pki.alice.x509.raw))).toBe('alice');
    expect(usernameFromCertificate(new Uint8Array(pki.jorg.x509.raw))).toBe('jörg');
    expect(usernameFromCertificate(new Uint8Array(pki.commaCn.x509.raw))).toBe('alice, O=x=y');
    expect(subjectCommonNames(new Uint8Array(pki.twoCns.x509.raw))).toEqual(['alice', 'bob']);
    expect(usernameFromCertificate(new Uint8Array(pki.twoCns.x509.raw))).toBeUndefined();
    expect(usernameFromCertificate(new Uint8Array(pki.noCn.x509.raw))).toBeUndefined();
  });

  it('keeps a NUL inside the CN (so it can never equal "al")', () => {
    const der = patch(pki.alice.x509.raw, 'alice', Buffer.from('al\u0000ce', 'latin1'));
    expect(usernameFromCertificate(der)).toBe('al\u0000ce');
  });

  it('non-UTF-8 bytes in a UTF8String CN name no user', () => {
    const der = patch(pki.alice.x509.raw, 'alice', Buffer.from([0x61, 0xff, 0xfe, 0x63, 0x65]));
    expect(usernameFromCertificate(der)).toBeUndefined();
  });

  it('never throws on truncated or random DER (fast-check)', () => {
    const raw = new Uint8Array(pki.alice.x509.raw);
    fc.assert(
      fc.property(fc.nat(raw.length), fc.uint8Array({ maxLength: 600 }), (cut, junk) => {
        expect(() => usernameFromCertificate(raw.subarray(0, cut))).not.toThrow();
        expect(() => usernameFromCertificate(junk)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });
});

describe('sanMapping', () => {
  it('maps a SPIFFE URI, rejects bad patterns with a typed error', () => {
    const m = compileSanMapping({ type: 'uri', pattern: 'spiffe://example\\.org/user/(.+)' });
    expect(m(pki.spiffe.x509)).toBe('alice');
    expect(m(pki.alice.x509)).toBeUndefined();
    expect(compileSanMapping({ type: 'dns', pattern: /^(.+)\.users\.example$/ })(pki.spiffe.x509)).toBeUndefined();
    expect(() => compileSanMapping({ type: 'uri', pattern: 'no-group' })).toThrow(/one capture group/);
    expect(() => compileSanMapping({ type: 'uri', pattern: '(a)(b)' })).toThrow(/one capture group/);
    expect(() => compileSanMapping({ type: 'uri', pattern: '(' })).toThrow(/not a valid regular expression/);
    expect(() => compileSanMapping({ type: 'ip' as never, pattern: '(.+)' })).toThrow(/type/);
  });
  it('splits Node SAN strings, honouring quoted values', () => {
    expect(sanEntries('DNS:a.example, URI:"spiffe://x/y,z", email:a@b')).toEqual([['DNS', 'a.example'], ['URI', 'spiffe://x/y,z'], ['email', 'a@b']]);
    expect(sanEntries(undefined)).toEqual([]);
  });
});

describe('Authorization header parsing (fast-check, 2000+ inputs)', () => {
  // A store that answers instantly, so the property exercises parsing, not scrypt.
  const calls: string[] = [];
  const users = {
    get: async () => undefined,
    version: async () => undefined,
    verifyPassword: async (u: string) => {
      calls.push(u);
      return undefined;
    },
  } as unknown as UserStore;
  const auth = createAuthenticator({ users, tokens: createTokenService({ secret: randomBytes(32), operationTokenTimeoutMs: 1000, refreshTokenTimeoutMs: 1000 }), mtls: false, trustedCas: [] });
  const req = (authorization: string) => ({ headers: { authorization }, socket: {} }) as unknown as IncomingMessage;

  it('always answers 401 Login failed, never throws', async () => {
    const header = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.tuple(fc.constantFrom('Basic ', 'basic ', 'Bearer ', 'BASIC  ', 'Negotiate '), fc.string({ maxLength: 100 })).map(([a, b]) => a + b),
      fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 })).map(([u, p]) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64')),
      fc.uint8Array({ maxLength: 80 }).map((b) => 'Basic ' + Buffer.from(b).toString('base64')),
    );
    await fc.assert(
      fc.asyncProperty(header, async (h) => {
        const r = await auth.authenticate(req(h));
        expect(r).toMatchObject({ ok: false, status: 401, error: 'Login failed' });
        expect(typeof (r as { reason: string }).reason).toBe('string');
      }),
      { numRuns: 2500 },
    );
  });

  it('decodes Basic user:password with a colon in the password', async () => {
    calls.length = 0;
    await auth.authenticate(req('Basic ' + Buffer.from('al:ice:pw:x').toString('base64')));
    expect(calls).toEqual(['al']);
    expect(await auth.authenticate(req('Basic ' + Buffer.from(':pw').toString('base64')))).toMatchObject({ reason: expect.stringMatching(/user:password/) });
    expect(await auth.authenticate(req('Basic !!!'))).toMatchObject({ reason: expect.stringMatching(/base64/) });
    expect(await auth.authenticate({ headers: {}, socket: {} } as unknown as IncomingMessage)).toMatchObject({ reason: 'no credentials' });
  });
});
