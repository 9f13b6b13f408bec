// Handlers declare metrics through a MetricFactory, never prom-client, so a fake ctx can hand them recording no-ops.
export type Labels<L extends string> = Readonly<Record<L, string | number>>;

export interface CounterMetric<L extends string = never> {
  inc(...args: [L] extends [never] ? [by?: number] : [labels: Labels<L>, by?: number]): void;
}
export interface GaugeMetric<L extends string = never> {
  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void;
}
export interface HistogramMetric<L extends string = never> {
  observe(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void;
}

export interface MetricSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

export interface MetricFactory {
  counter<L extends string = never>(spec: MetricSpec<L>): CounterMetric<L>;
  gauge<L extends string = never>(spec: MetricSpec<L>): GaugeMetric<L>;
  histogram<L extends string = never>(spec: MetricSpec<L> & { buckets?: readonly number[] }): HistogramMetric<L>;
}
