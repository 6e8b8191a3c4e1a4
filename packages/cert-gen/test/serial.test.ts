import { describe, expect, it } from 'vitest';
import { checkNewSerialHex, normalizeSerialHex, randomSerialHex } from '../src/serial.js';

describe('randomSerialHex', () => {
  it('is 16 bytes, positive, and already in normalised form (records keyed by it always match)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const s = randomSerialHex();
      expect(s).toHaveLength(32);
      expect(Number.parseInt(s.slice(0, 2), 16)).toBeGreaterThanOrEqual(0x40);
      expect(Number.parseInt(s.slice(0, 2), 16)).toBeLessThan(0x80);
      expect(normalizeSerialHex(s)).toBe(s);
      seen.add(s);
    }
    expect(seen.size).toBe(5000);
  });

  it('normalises user input: colons, 0x, case, leading zeros; rejects non-hex and over 20 bytes', () => {
    expect(normalizeSerialHex('0x00:0A:bc')).toBe('abc');
    expect(normalizeSerialHex('0')).toBe('0');
    expect(() => normalizeSerialHex('xyz')).toThrow(/not a hexadecimal number/);
    expect(() => normalizeSerialHex('1'.repeat(43))).toThrow(/at most 20 bytes/);
  });
});

describe('checkNewSerialHex', () => {
  it('takes positive serials of up to 20 DER octets (sign pad included); zero, 21 octets and non-strings are typed invalid input', () => {
    expect(checkNewSerialHex('0x00:0A')).toBe('a');
    expect(checkNewSerialHex('7f'.repeat(20))).toBe('7f'.repeat(20));
    expect(checkNewSerialHex('80'.repeat(19))).toBe('80'.repeat(19));
    for (const [bad, message] of [['0', /is zero/], ['000', /is zero/], ['80'.repeat(20), /21 octets/], ['1' + '00'.repeat(20), /21 octets/], [42, /must be a hexadecimal string/]] as const) {
      expect(() => checkNewSerialHex(bad)).toThrow(expect.objectContaining({ code: 'ERR_CERTGEN_INVALID_INPUT', message: expect.stringMatching(message) }));
    }
  });
});
