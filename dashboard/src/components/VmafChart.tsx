import type { VmafSeries } from "../types";

export interface ChartSeries {
  name: string;
  series: VmafSeries;
}

const W = 720;
const H = 260;
const PAD = { left: 40, right: 12, top: 12, bottom: 30 };
const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d"];
/** Above this many points a series is reduced to each pixel column's min and max (the shape stays, dips too). */
const MAX_POINTS = 4000;

export function seriesColor(index: number): string {
  return COLORS[index % COLORS.length];
}

/** [frame, vmaf] pairs of a series: item i is frame index[i] when the series lists its frames, else i * subsample. */
export function seriesPoints(s: VmafSeries): Array<[number, number]> {
  const step = s.subsample > 0 ? s.subsample : 1;
  const index = Array.isArray(s.index) && s.index.length === s.frames.length ? s.index : null;
  const pts: Array<[number, number]> = [];
  s.frames.forEach((v, i) => {
    if (typeof v === "number" && Number.isFinite(v)) pts.push([index ? index[i] : i * step, v]);
  });
  return pts;
}

/** SVG path data; a gap of more than two steps between frames (unscored frames between sampled windows) starts a
 * new subpath instead of drawing across it. */
export function pathData(pts: Array<[number, number]>, step: number, x: (f: number) => number, y: (v: number) => number): string {
  return pts
    .map(([f, v], j) => {
      const jump = j === 0 || f - pts[j - 1][0] > 2 * Math.max(1, step);
      return `${jump ? "M" : "L"}${x(f).toFixed(2)},${y(v).toFixed(2)}`;
    })
    .join(" ");
}

function reduce(pts: Array<[number, number]>, buckets: number): Array<[number, number]> {
  if (pts.length <= MAX_POINTS) return pts;
  const out: Array<[number, number]> = [];
  const size = pts.length / buckets;
  for (let b = 0; b < buckets; b += 1) {
    const slice = pts.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (!slice.length) continue;
    let lo = slice[0];
    let hi = slice[0];
    for (const p of slice) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    if (lo[0] <= hi[0]) out.push(lo, hi);
    else out.push(hi, lo);
  }
  return out;
}

/** A per-frame VMAF line chart: x = frame, y = VMAF 0-100, one path per rendition. */
export function VmafChart({ series }: { series: ChartSeries[] }) {
  const all = series.map((s) => ({ name: s.name, step: s.series.subsample, pts: seriesPoints(s.series) }));
  const maxFrame = Math.max(1, ...all.flatMap((s) => (s.pts.length ? [s.pts[s.pts.length - 1][0]] : [])));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (f: number) => PAD.left + (f / maxFrame) * plotW;
  const y = (v: number) => PAD.top + (1 - Math.min(100, Math.max(0, v)) / 100) * plotH;
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((t) => Math.round(t * maxFrame));

  return (
    <figure className="chart">
      <svg
        data-testid="vmaf-chart"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Per-frame VMAF of ${series.map((s) => s.name).join(", ") || "no rendition"}`}
      >
        {[0, 20, 40, 60, 80, 100].map((v) => (
          <g key={v}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} className="grid" />
            <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end" className="tick">
              {v}
            </text>
          </g>
        ))}
        {xTicks.map((f, i) => (
          <text
            key={`${f}-${i}`}
            x={x(f)}
            y={H - 10}
            textAnchor={i === 0 ? "start" : i === xTicks.length - 1 ? "end" : "middle"}
            className="tick"
          >
            {f}
          </text>
        ))}
        {all.map((s, i) => {
          const pts = reduce(s.pts, plotW);
          const d = pathData(pts, pts === s.pts ? s.step : Infinity, x, y);
          return (
            <path
              key={s.name}
              data-testid={`vmaf-series-${s.name}`}
              data-points={pts.length}
              d={d}
              fill="none"
              stroke={seriesColor(i)}
              strokeWidth={1.5}
              vectorEffect="non-scaling-stroke"
            >
              <title>{s.name}</title>
            </path>
          );
        })}
      </svg>
      <figcaption className="legend">
        <span className="muted">x: frame · y: VMAF</span>
        {all.map((s, i) => (
          <span key={s.name} className="legend-item">
            <span className="swatch" style={{ background: seriesColor(i) }} aria-hidden="true" />
            {s.name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
