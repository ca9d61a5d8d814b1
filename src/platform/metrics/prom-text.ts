// A small registry of Prometheus metrics rendered in the text exposition format (version 0.0.4):
// counters (optionally with one label), gauges read when scraped, and histograms. Updating a metric is a
// field or Map increment, so the hot path pays next to nothing; all the formatting happens per scrape.

type Sample = [labels: string, value: number];

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  samples(): Sample[];
}

export class Registry {
  readonly #metrics: Metric[] = [];

  /** A counter; with `label`, one series per value of that label (keep the values a small fixed set). */
  counter(name: string, help: string, label?: string): Counter {
    return this.#add(new Counter(name, help, label));
  }

  /** A gauge whose value `read` gives at each scrape. */
  gauge(name: string, help: string, read: () => number): void {
    this.#add({ name, help, type: 'gauge', samples: () => [['', read()]] });
  }

  /** A histogram with these upper bounds (ascending; +Inf is added). */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  render(): string {
    let out = '';
    for (const metric of this.#metrics) {
      out += `# HELP ${metric.name} ${escapeHelp(metric.help)}\n# TYPE ${metric.name} ${metric.type}\n`;
      for (const [labels, value] of metric.samples())
        out += `${metric.name}${labels} ${formatValue(value)}\n`;
    }
    return out;
  }

  #add<M extends Metric>(metric: M): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.name))
      throw new RangeError(`bad metric name ${metric.name}`);
    if (this.#metrics.some((m) => m.name === metric.name))
      throw new RangeError(`metric ${metric.name} is registered twice`);
    this.#metrics.push(metric);
    return metric;
  }
}

export class Counter implements Metric {
  readonly type = 'counter';
  #value = 0;
  readonly #byLabel = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly label?: string,
  ) {}

  /** Adds `by` (≥ 0); `labelValue` picks the series of a labelled counter. */
  inc(by = 1, labelValue?: string): void {
    if (labelValue === undefined) this.#value += by;
    else this.#byLabel.set(labelValue, (this.#byLabel.get(labelValue) ?? 0) + by);
  }

  /** Makes a labelled series show (as 0) before its first increment, so rates have a start. */
  declare(...labelValues: string[]): this {
    for (const v of labelValues) if (!this.#byLabel.has(v)) this.#byLabel.set(v, 0);
    return this;
  }

  /** Every labelled series with its count. */
  values(): Record<string, number> {
    return Object.fromEntries(this.#byLabel);
  }

  value(labelValue?: string): number {
    return labelValue === undefined ? this.#value : (this.#byLabel.get(labelValue) ?? 0);
  }

  samples(): Sample[] {
    if (this.label === undefined) return [['', this.#value]];
    return [...this.#byLabel].map(([v, n]) => [`{${this.label}="${escapeLabel(v)}"}`, n]);
  }
}

export class Histogram implements Metric {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
  ) {
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!))
      throw new RangeError(`${name}: buckets must ascend`);
    this.#bounds = buckets;
    this.#counts = new Array<number>(buckets.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.#bounds.length && value > this.#bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      out.push([`_bucket{le="${formatValue(bound)}"}`, cumulative]);
    });
    out.push(['_bucket{le="+Inf"}', this.#count], ['_sum', this.#sum], ['_count', this.#count]);
    return out;
  }
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
