import { AggregatorRegistry, type Registry, type RegistryContentType } from 'prom-client';

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type Metric = MetricsJson[number];
type Value = Metric['values'][number] & { metricName?: string };

/** Metric types whose values only go up (histogram buckets, sums and counts included). */
const MONOTONIC = new Set<string>(['counter', 'histogram']);

const seriesKey = (m: Metric, v: Value) => `${v.metricName ?? m.name}\u0000${JSON.stringify(Object.entries(v.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
const monotonic = (json: MetricsJson): MetricsJson => json.filter((m) => MONOTONIC.has(String(m.type)));

/**
 * Counters of a multi-worker `/metrics` that do not go down when a worker dies (SPEC.md section 8).
 * The counts of a dead worker as last collected stay in the sums (its replacement, with the same
 * `worker` index, continues its series), and a series never reads lower than it was last served:
 * what the dead worker counted after its last collection is missing (as the increments of any
 * crashed process that were not scraped), but no sum drops, which Prometheus would read as a
 * counter reset and count the whole remaining value again. Gauges of a dead worker are dropped.
 */
export class MetricsContinuity {
  readonly #last = new Map<number, MetricsJson>();
  #retired: MetricsJson = [];
  readonly #served = new Map<string, { metric: Metric; value: Value }>();

  /** What worker `index` reported in this collection. */
  seen(index: number, json: MetricsJson): void {
    this.#last.set(index, json);
  }

  /** Worker `index` died: its last counts stay in the sums. */
  async retire(index: number): Promise<void> {
    const last = this.#last.get(index);
    this.#last.delete(index);
    if (!last) return;
    this.#retired = await AggregatorRegistry.aggregate([this.#retired, monotonic(last)]).getMetricsAsJSON();
  }

  /** The sum of `parts` (the live workers and the primary), the retired counts, and what keeps every counter from going down. */
  async aggregate(parts: MetricsJson[]): Promise<Registry<RegistryContentType>> {
    const withRetired = [...parts, this.#retired];
    const sums = await AggregatorRegistry.aggregate(withRetired).getMetricsAsJSON();
    const now = new Map<string, number>();
    for (const m of monotonic(sums)) for (const v of m.values as Value[]) now.set(seriesKey(m, v), v.value);
    const correction = new Map<string, Metric>();
    for (const [key, { metric, value }] of this.#served) {
      const deficit = value.value - (now.get(key) ?? 0);
      if (deficit <= 0) continue;
      const m = correction.get(metric.name) ?? ({ name: metric.name, help: metric.help, type: metric.type, aggregator: metric.aggregator, values: [] } as unknown as Metric);
      (m.values as Value[]).push({ ...value, value: deficit });
      correction.set(metric.name, m);
    }
    const result = correction.size ? AggregatorRegistry.aggregate([...withRetired, [...correction.values()]]) : AggregatorRegistry.aggregate(withRetired);
    for (const m of monotonic(await result.getMetricsAsJSON())) for (const v of m.values as Value[]) this.#served.set(seriesKey(m, v), { metric: m, value: { ...v } });
    return result;
  }
}
