import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsRegistry } from './metrics-registry.js';
import { parsePrometheusText } from './test-support.js';

describe('metrics registry: the Prometheus text format', () => {
  it('renders HELP and TYPE before the samples of each family, counters and gauges by label set', async () => {
    const r = new MetricsRegistry();
    const c = r.counter('x_requests_total', 'Requests.', ['route']);
    const g = r.gauge('x_revision', 'Revision.', ['repository']);
    c.inc({ route: '/a' });
    c.inc({ route: '/a' }, 2);
    c.inc({ route: '/b' });
    g.set({ repository: 'sw.example.org' }, 7);
    const text = await r.render();
    assert.equal(
      text,
      [
        '# HELP x_requests_total Requests.',
        '# TYPE x_requests_total counter',
        'x_requests_total{route="/a"} 3',
        'x_requests_total{route="/b"} 1',
        '# HELP x_revision Revision.',
        '# TYPE x_revision gauge',
        'x_revision{repository="sw.example.org"} 7',
        '',
      ].join('\n'),
    );
    const scrape = parsePrometheusText(text);
    assert.equal(scrape.value('x_requests_total', { route: '/a' }), 3);
  });

  it('escapes label values and help text as the format requires', async () => {
    const r = new MetricsRegistry();
    r.gauge('x_odd', 'Back\\slash and\nnewline.', ['v']).set({ v: 'a "quoted" \\ path\nnext' }, 1);
    const text = await r.render();
    assert.match(text, /^# HELP x_odd Back\\\\slash and\\nnewline\.$/m);
    assert.match(text, /^x_odd\{v="a \\"quoted\\" \\\\ path\\nnext"\} 1$/m);
    assert.equal(parsePrometheusText(text).samples[0]?.labels.v, 'a "quoted" \\ path\nnext');
  });

  it('counts histogram observations into cumulative buckets ending at +Inf, with sum and count', async () => {
    const r = new MetricsRegistry();
    const h = r.histogram('x_seconds', 'Latency.', ['route'], [0.1, 1, 10]);
    for (const v of [0.05, 0.1, 0.5, 3, 100]) h.observe({ route: '/a' }, v);
    const scrape = parsePrometheusText(await r.render());
    const bucket = (le: string) => scrape.value('x_seconds_bucket', { route: '/a', le });
    assert.deepEqual(
      ['0.1', '1', '10', '+Inf'].map(bucket),
      [2, 3, 4, 5],
      'an observation equal to a bound counts in that bucket',
    );
    assert.equal(scrape.value('x_seconds_count', { route: '/a' }), 5);
    assert.ok(Math.abs((scrape.value('x_seconds_sum', { route: '/a' }) ?? 0) - 103.65) < 1e-9);
  });

  it('runs collectors before rendering, and reset() drops series that went away', async () => {
    const r = new MetricsRegistry();
    const g = r.gauge('x_up', 'Up.', ['repository']);
    let names = ['a.example.org', 'b.example.org'];
    r.onCollect(() => {
      g.reset();
      for (const n of names) g.set({ repository: n }, 1);
    });
    assert.equal(parsePrometheusText(await r.render()).samples.length, 2);
    names = ['b.example.org'];
    const scrape = parsePrometheusText(await r.render());
    assert.deepEqual(
      scrape.samples.map((s) => s.labels.repository),
      ['b.example.org'],
    );
  });

  it('refuses what would make an invalid exposition: bad names, missing labels, falling counters, twins', () => {
    const r = new MetricsRegistry();
    assert.throws(() => r.counter('bad-name', 'x'));
    assert.throws(() => r.counter('x_total', 'x', ['__reserved']));
    assert.throws(() => r.histogram('x_h', 'x', ['le']));
    const c = r.counter('x_total', 'x', ['route']);
    assert.throws(() => c.inc({}), /needs label route/);
    assert.throws(() => c.inc({ route: '/' }, -1), /cannot go down/);
    assert.throws(() => r.gauge('x_total', 'again'), /duplicate/);
  });
});
