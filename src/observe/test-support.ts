/**
 * For this folder's tests only (not exported): a `barge serve` child with its log lines, and a
 * strict reader of Prometheus' text format that fails on anything a scraper would reject.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { BARGE_BIN } from '../testing/run-barge.js';

/** A running `barge serve`: its base URL, every stdout line so far, and stop(). */
export interface ServeChild {
  url: string;
  lines: string[];
  child: ChildProcess;
  /** The JSON log events printed so far (lines that parse as JSON objects). */
  events(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts `barge serve --listen 127.0.0.1:0 --data <data>` and waits for its "serving … at URL" line. */
export async function startServe(data: string): Promise<ServeChild> {
  const child = spawn(process.execPath, [BARGE_BIN, 'serve', '--listen', '127.0.0.1:0', '--data', data], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let pending = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      pending += c.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const m = /^serving .* at (http:\/\/[^ ]+)\/cvmfs\/$/.exec(line);
        if (m?.[1]) resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`barge serve exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    lines,
    child,
    events: () =>
      lines.flatMap((l) => {
        if (!l.startsWith('{')) return [];
        return [JSON.parse(l) as Record<string, unknown>];
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** One sample of a scrape. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed scrape: families with their type and help, and every sample. */
export interface PromScrape {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: PromSample[];
  /** The value of the sample `name` with exactly these labels (undefined if absent). */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;

/**
 * Parses the text exposition format 0.0.4 strictly: `# HELP` and `# TYPE` before a family's
 * samples and at most once, sample names that belong to their declared family (`_bucket`, `_sum`,
 * `_count` for histograms), well-formed and escaped labels, float values, no duplicate series,
 * and histograms whose buckets grow, end at `le="+Inf"` and equal `_count`.
 */
export function parsePrometheusText(text: string): PromScrape {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: PromSample[] = [];
  const seen = new Set<string>();
  const familiesWithSamples = new Set<string>();
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
      assert.ok(m, `malformed comment, ${where}`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      assert.ok(!familiesWithSamples.has(name), `${kind} after samples, ${where}`);
      const table = kind === 'HELP' ? help : types;
      assert.ok(!table.has(name), `second ${kind}, ${where}`);
      if (kind === 'TYPE') assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/, where);
      else assert.ok(!/\\[^\\n]/.test(rest.replace(/\\\\/g, '')), `bad escape in HELP, ${where}`);
      table.set(name, rest);
      continue;
    }
    assert.ok(line.length > 0, `empty line, ${where}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `malformed sample, ${where}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    let rest = labelText ?? '';
    while (rest.length > 0) {
      const l = LABEL.exec(rest);
      assert.ok(l, `malformed labels, ${where}`);
      const [whole, key, raw] = l as unknown as [string, string, string];
      assert.ok(!(key in labels), `repeated label ${key}, ${where}`);
      labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(whole.length);
    }
    assert.ok(/^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(valueText), `bad value, ${where}`);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    const family = familyOf(name, types);
    assert.ok(family, `sample without a TYPE, ${where}`);
    familiesWithSamples.add(family);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `duplicate series, ${where}`);
    seen.add(key);
    samples.push({ name, labels, value });
  }
  checkHistograms(types, samples);
  return {
    types,
    help,
    samples,
    value: (name, labels = {}) =>
      samples.find(
        (s) =>
          s.name === name &&
          Object.keys(s.labels).length === Object.keys(labels).length &&
          Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value,
  };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return types.get(name) === 'histogram' ? undefined : name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m?.[1] && types.get(m[1]) === 'histogram' ? m[1] : undefined;
}

function checkHistograms(types: Map<string, string>, samples: PromSample[]): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, { les: [number, number][]; count?: number; sum?: number }>();
    for (const s of samples) {
      if (!s.name.startsWith(`${family}_`)) continue;
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const entry = series.get(key) ?? { les: [] };
      if (s.name === `${family}_bucket`) {
        assert.ok(le !== undefined, `${family}_bucket without le`);
        entry.les.push([le === '+Inf' ? Infinity : Number(le), s.value]);
      } else if (s.name === `${family}_count`) entry.count = s.value;
      else if (s.name === `${family}_sum`) entry.sum = s.value;
      series.set(key, entry);
    }
    for (const [key, h] of series) {
      const where = `${family}${key}`;
      assert.ok(
        h.les.length > 0 && h.count !== undefined && h.sum !== undefined,
        `incomplete histogram ${where}`,
      );
      const last = h.les[h.les.length - 1] as [number, number];
      assert.equal(last[0], Infinity, `the last bucket of ${where} is +Inf`);
      assert.equal(last[1], h.count, `+Inf bucket equals _count in ${where}`);
      for (let i = 1; i < h.les.length; i++) {
        const [a, ca] = h.les[i - 1] as [number, number];
        const [b, cb] = h.les[i] as [number, number];
        assert.ok(b > a && cb >= ca, `buckets of ${where} grow`);
      }
    }
  }
}
