import { describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { BatchedCounter } from '../src/metrics.js';

/** BatchedCounter must read exactly like a plain prom-client Counter fed the same calls. */
describe('BatchedCounter', () => {
  it('renders, reads, resets and removes like a plain Counter', async () => {
    const r1 = new Registry();
    const r2 = new Registry();
    const a = new BatchedCounter({ name: 'c', help: 'h', labelNames: ['x', 'y'], registers: [r1] });
    const b = new Counter({ name: 'c', help: 'h', labelNames: ['x', 'y'], registers: [r2] });
    for (const c of [a, b]) {
      c.inc({ x: '1', y: 'a' });
      c.inc({ x: '1', y: 'a' });
      c.inc({ x: '2', y: 'a' });
      c.inc({ x: '1', y: 'b' }, 5);
      c.labels({ x: '3', y: 'c' }).inc();
      c.inc({ y: 'z', x: '1' });
      c.inc({ x: '1', y: 4 as unknown as string }); // a number value: prom-client's own path
    }
    expect(await r1.metrics()).toBe(await r2.metrics());
    a.inc({ x: '1', y: 'a' });
    b.inc({ x: '1', y: 'a' });
    expect((await a.get()).values).toEqual((await b.get()).values);
    // an unknown label is refused at once, as prom-client does
    expect(() => a.inc({ x: '1', nope: 'q' } as never)).toThrow();
    expect(() => b.inc({ x: '1', nope: 'q' } as never)).toThrow();
    for (const c of [a, b]) {
      c.reset();
      c.inc({ x: '9', y: 'a' });
    }
    expect(await r1.metrics()).toBe(await r2.metrics());
    for (const c of [a, b]) {
      c.inc({ x: '9', y: 'a' });
      c.inc({ x: '8', y: 'a' });
      c.remove({ x: '9', y: 'a' });
    }
    expect(await r1.metrics()).toBe(await r2.metrics());
    expect(await r1.metrics()).toMatch(/c\{x="8",y="a"\} 1/);
  });
});
