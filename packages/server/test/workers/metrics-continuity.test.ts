import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricsContinuity } from '../../src/workers/metrics-continuity.js';

/** One worker's registry: a labelled counter, an unlabelled one, a gauge, a histogram. */
function worker(index: number) {
  const registry = new Registry();
  const requests = new Counter({ name: 'req_total', help: 'r', labelNames: ['worker'], registers: [registry] });
  const auth = new Counter({ name: 'auth_total', help: 'a', registers: [registry] });
  const open = new Gauge({ name: 'open', help: 'o', registers: [registry] });
  const latency = new Histogram({ name: 'lat', help: 'l', buckets: [1], registers: [registry] });
  return { index, registry, requests: requests.labels({ worker: String(index) }), auth, open, latency };
}

const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

async function scrape(c: MetricsContinuity, ws: Array<ReturnType<typeof worker>>) {
  const parts = [];
  for (const w of ws) {
    // A copy, as the IPC channel hands it to the primary (prom-client's JSON shares live objects).
    const json = structuredClone(await w.registry.getMetricsAsJSON());
    c.seen(w.index, json);
    parts.push(json);
  }
  return (await c.aggregate(parts)).metrics();
}

describe('MetricsContinuity: /metrics of the workers when one dies', () => {
  it("keeps a dead worker's collected counts, continues its series in the replacement, drops its gauges, never goes down", async () => {
    const c = new MetricsContinuity();
    const w0 = worker(0);
    let w1 = worker(1);
    w0.requests.inc(5);
    w1.requests.inc(7);
    w0.auth.inc(2);
    w1.auth.inc(3);
    w1.open.set(4);
    w1.latency.observe(0.5);
    let text = await scrape(c, [w0, w1]);
    expect([value(text, 'req_total{worker="1"}'), value(text, 'auth_total'), value(text, 'open')]).toEqual([7, 5, 4]);
    // Worker 1 counts one more, then dies before the next scrape; the replacement starts from zero.
    w1.auth.inc(1);
    await c.retire(1);
    w1 = worker(1);
    text = await scrape(c, [w0, w1]);
    expect(value(text, 'req_total{worker="1"}')).toBe(7);
    expect(value(text, 'auth_total')).toBe(5); // the uncollected increment is lost, the sum does not go down
    expect(value(text, 'open')).toBe(0); // the dead worker's gauge is gone
    expect(value(text, 'lat_count')).toBe(1);
    w1.requests.inc(2);
    w1.auth.inc(4);
    w0.auth.inc(1);
    text = await scrape(c, [w0, w1]);
    expect([value(text, 'req_total{worker="0"}'), value(text, 'req_total{worker="1"}'), value(text, 'auth_total')]).toEqual([5, 9, 10]);
  });

  it('a worker that dies before it was ever collected: the sums still do not go down', async () => {
    const c = new MetricsContinuity();
    const w0 = worker(0);
    const w1 = worker(1);
    w0.auth.inc(3);
    w1.auth.inc(3);
    expect(value(await scrape(c, [w0, w1]), 'auth_total')).toBe(6);
    w1.auth.inc(10);
    // Collected without worker 1 (it is dying), then it is retired with only what was seen before.
    expect(value(await scrape(c, [w0]), 'auth_total')).toBe(6);
    await c.retire(1);
    expect(value(await scrape(c, [w0, worker(1)]), 'auth_total')).toBe(6);
  });
});
