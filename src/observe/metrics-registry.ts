/** Label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Latency buckets in seconds: a cached object answers in well under a millisecond, an upload in minutes. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** One metric family: a name, its help, its label names, and its series. */
abstract class Family<Series> {
  protected readonly series = new Map<string, { labels: string[]; value: Series }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label ${l}`);
    }
  }

  /** Forgets every series (a gauge set afresh at each scrape drops repositories that went away). */
  reset(): void {
    this.series.clear();
  }

  protected slot(labels: Labels, fresh: () => Series): Series {
    const values = this.labelNames.map((n) => {
      const v = labels[n];
      if (v === undefined) throw new Error(`${this.name} needs label ${n}`);
      return v;
    });
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: values, value: fresh() };
      this.series.set(key, s);
    }
    return s.value;
  }

  /** The family's lines in the text exposition format (version 0.0.4). */
  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.series.values()) this.renderSeries(lines, labels, value);
    return `${lines.join('\n')}\n`;
  }

  protected abstract renderSeries(lines: string[], labels: string[], value: Series): void;

  protected labelText(values: string[], extra?: [string, string]): string {
    const pairs = this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i] as string)}"`);
    if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
    return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
  }
}

/** A value per label set that only grows (or mirrors a count kept elsewhere, such as a ledger). */
export class Counter extends Family<{ v: number }> {
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name} cannot go down`);
    this.slot(labels, () => ({ v: 0 })).v += by;
  }

  /** Sets the total of a counter whose source of truth is elsewhere (it resets only when that does). */
  setTotal(labels: Labels, total: number): void {
    this.slot(labels, () => ({ v: 0 })).v = total;
  }

  protected renderSeries(lines: string[], labels: string[], s: { v: number }): void {
    lines.push(`${this.name}${this.labelText(labels)} ${formatValue(s.v)}`);
  }
}

/** A value per label set that goes up and down. */
export class Gauge extends Family<{ v: number }> {
  set(labels: Labels, value: number): void {
    this.slot(labels, () => ({ v: 0 })).v = value;
  }

  protected renderSeries(lines: string[], labels: string[], s: { v: number }): void {
    lines.push(`${this.name}${this.labelText(labels)} ${formatValue(s.v)}`);
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed buckets, with their sum and count. */
export class Histogram extends Family<HistogramSeries> {
  private readonly bounds: number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, 'histogram', labelNames);
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const s = this.slot(labels, () => ({ counts: this.bounds.map(() => 0), sum: 0, count: 0 }));
    // Each observation lands in its first bucket only; render() accumulates.
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count += 1;
  }

  protected renderSeries(lines: string[], labels: string[], s: HistogramSeries): void {
    let running = 0;
    this.bounds.forEach((bound, i) => {
      running += s.counts[i] as number;
      lines.push(`${this.name}_bucket${this.labelText(labels, ['le', formatValue(bound)])} ${running}`);
    });
    lines.push(`${this.name}_bucket${this.labelText(labels, ['le', '+Inf'])} ${s.count}`);
    lines.push(`${this.name}_sum${this.labelText(labels)} ${formatValue(s.sum)}`);
    lines.push(`${this.name}_count${this.labelText(labels)} ${s.count}`);
  }
}

/**
 * The metrics of one process, rendered in Prometheus' text exposition format 0.0.4. Collectors
 * run before each render, so values read from disk (ledgers, manifests) are as fresh as the scrape.
 */
export class MetricsRegistry {
  private readonly families: { name: string; render(): string }[] = [];
  private readonly collectors: (() => void | Promise<void>)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, 'counter', labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, 'gauge', labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = LATENCY_BUCKETS,
  ): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs `collect` before every render (sets gauges from the current state). */
  onCollect(collect: () => void | Promise<void>): void {
    this.collectors.push(collect);
  }

  /** Every family, collectors run first. */
  async render(): Promise<string> {
    for (const c of this.collectors) await c();
    return this.families.map((f) => f.render()).join('');
  }

  private add<F extends { name: string; render(): string }>(family: F): F {
    if (this.families.some((f) => f.name === family.name)) throw new Error(`duplicate metric ${family.name}`);
    this.families.push(family);
    return family;
  }
}

/** The Content-Type of the text format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/** HELP text escapes backslash and newline (the format's rule). */
function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values escape backslash, double quote and newline. */
function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
