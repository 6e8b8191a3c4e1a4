import { describe, expect, it } from 'vitest';
import { normalizeSerialHex, randomSerialHex } from '../src/serial.js';

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
