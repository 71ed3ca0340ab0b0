/**
 * Two small SVG charts, drawn here rather than by a chart library (which would weigh more than the
 * whole dashboard): a step-line chart of values over time and a bar chart. Both scale to their
 * box (viewBox), label their axes, and give each point a <title> for a hover tooltip.
 */

const W = 960;
const H = 300;
const PAD = { left: 72, right: 16, top: 12, bottom: 30 };

/** Up to about `target` round tick values from 0 to at least `max` (steps of 1, 2 or 5 × 10^n). */
export function ticks(max: number, target = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * p >= raw) ?? 10) * p;
  const out: number[] = [];
  for (let v = 0; v < max + step; v += step) out.push(v);
  return out;
}

/** One line of a LineChart. */
export interface Series {
  name: string;
  /** CSS class giving its colour (`s-1`, `s-2`). */
  className: string;
  points: { x: number; y: number }[];
}

/** Values over time (x in Unix seconds), as steps: storage changes at publishes and gc runs, not between. */
export function LineChart(props: { label: string; series: Series[]; formatY: (v: number) => string }) {
  const all = props.series.flatMap((s) => s.points);
  if (all.length === 0) return <p class="muted">No samples yet.</p>;
  let x0 = Math.min(...all.map((p) => p.x));
  let x1 = Math.max(...all.map((p) => p.x));
  if (x1 - x0 < 60) {
    x0 -= 1800;
    x1 += 1800;
  }
  const yTicks = ticks(Math.max(...all.map((p) => p.y)));
  const yMax = yTicks[yTicks.length - 1] as number;
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
  const xTicks = [0, 1, 2, 3].map((i) => x0 + ((x1 - x0) * i) / 3);
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.label}>
      {yTicks.map((v) => (
        <g key={v}>
          <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={sy(v)} y2={sy(v)} />
          <text class="axis" x={PAD.left - 6} y={sy(v) + 4} text-anchor="end">
            {props.formatY(v)}
          </text>
        </g>
      ))}
      {xTicks.map((t, i) => (
        <text
          key={t}
          class="axis"
          x={sx(t)}
          y={H - 8}
          text-anchor={i === 0 ? 'start' : i === xTicks.length - 1 ? 'end' : 'middle'}
        >
          {new Date(t * 1000).toISOString().slice(5, 16).replace('T', ' ')}
        </text>
      ))}
      {props.series.map((s) => {
        const pts = [...s.points].sort((a, b) => a.x - b.x);
        let d = '';
        pts.forEach((p, i) => {
          d += i === 0 ? `M${sx(p.x)},${sy(p.y)}` : `H${sx(p.x)}V${sy(p.y)}`;
        });
        const last = pts[pts.length - 1];
        if (last) d += `H${sx(x1)}`;
        return (
          <g key={s.name} class={s.className}>
            <path class="line" d={d} />
            {pts.length <= 80 &&
              pts.map((p) => (
                <circle key={p.x} class="dot" cx={sx(p.x)} cy={sy(p.y)} r={3}>
                  <title>{`${s.name} ${props.formatY(p.y)} at ${new Date(p.x * 1000).toISOString()}`}</title>
                </circle>
              ))}
          </g>
        );
      })}
    </svg>
  );
}

/** One bar of a BarChart. */
export interface Bar {
  key: string;
  label: string;
  value: number;
  title: string;
}

/** Bars left to right (oldest first), labelled underneath when there is room. */
export function BarChart(props: { label: string; bars: Bar[]; formatY: (v: number) => string }) {
  if (props.bars.length === 0) return <p class="muted">Nothing to chart yet.</p>;
  const yTicks = ticks(Math.max(...props.bars.map((b) => b.value)));
  const yMax = yTicks[yTicks.length - 1] as number;
  const sy = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
  const slot = (W - PAD.left - PAD.right) / props.bars.length;
  const width = Math.max(2, Math.min(48, slot * 0.7));
  const labelEvery = Math.ceil(props.bars.length / 8);
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.label}>
      {yTicks.map((v) => (
        <g key={v}>
          <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={sy(v)} y2={sy(v)} />
          <text class="axis" x={PAD.left - 6} y={sy(v) + 4} text-anchor="end">
            {props.formatY(v)}
          </text>
        </g>
      ))}
      {props.bars.map((b, i) => {
        const cx = PAD.left + slot * (i + 0.5);
        return (
          <g key={b.key} class="bar">
            <rect x={cx - width / 2} y={sy(b.value)} width={width} height={Math.max(1, sy(0) - sy(b.value))}>
              <title>{b.title}</title>
            </rect>
            {i % labelEvery === 0 && (
              <text class="axis" x={cx} y={H - 8} text-anchor="middle">
                {b.label}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
