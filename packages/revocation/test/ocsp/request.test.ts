import { describe, expect, it } from 'vitest';
import { OCSP_GET_LIMIT, ocspGetUrl } from '../../src/ocsp/request.js';

describe('ocspGetUrl (RFC 5019 section 5, RFC 6960 appendix A.1)', () => {
  it('GET under 255 bytes of url-encoded base64, counting the escapes', () => {
    const zeros = (n: number) => new Uint8Array(n); // base64 "AAAA...": nothing to escape
    expect(ocspGetUrl('http://r.test/ocsp', zeros(189))).toBe(`http://r.test/ocsp/${'A'.repeat(252)}`);
    expect(ocspGetUrl('http://r.test/ocsp', zeros(188))).toBe(`http://r.test/ocsp/${'A'.repeat(251)}%3D`); // 254
    expect(ocspGetUrl('http://r.test/ocsp', zeros(187))).toBeUndefined(); // 252 in base64, but "==" makes it 256
    expect(ocspGetUrl('http://r.test/ocsp', zeros(192))).toBeUndefined(); // 256 characters
    // 0xff bytes are "////" in base64: 160 characters, 480 once url-encoded, so POST.
    const ff = new Uint8Array(120).fill(0xff);
    expect(Buffer.from(ff).toString('base64').length).toBeLessThan(OCSP_GET_LIMIT);
    expect(ocspGetUrl('http://r.test/ocsp', ff)).toBeUndefined();
    const small = new Uint8Array([0xfb, 0xff, 0xfe]); // "+//+"
    expect(ocspGetUrl('http://r.test/', small)).toBe('http://r.test/%2B%2F%2F%2B');
  });

  it('does not double a trailing slash, and POSTs to responder URLs with a query', () => {
    const der = new Uint8Array([1, 2, 3]);
    expect(ocspGetUrl('http://r.test/ocsp/', der)).toBe('http://r.test/ocsp/AQID');
    expect(ocspGetUrl('http://r.test/ocsp', der)).toBe('http://r.test/ocsp/AQID');
    expect(ocspGetUrl('http://r.test', der)).toBe('http://r.test/AQID');
    expect(ocspGetUrl('http://r.test/ocsp?x=1', der)).toBeUndefined();
  });
});
