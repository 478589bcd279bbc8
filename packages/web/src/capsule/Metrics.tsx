/** The Metrics tab: CPU, memory and disk over 5 min / 1 h / 24 h, polled while shown. */
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import { api } from '../api';
import { usePoll } from '../hooks';
import type { MetricPoint } from '../types';
import { bytes, ErrorText } from '../ui';

// The server's ranges are 5m, 10m, 2h and 24h; "1 h" is the last hour of 2h.
const RANGES = [
  { label: '5 min', range: '5m', keepSec: 300, every: 2000 },
  { label: '1 h', range: '2h', keepSec: 3600, every: 30_000 },
  { label: '24 h', range: '24h', keepSec: 86400, every: 60_000 },
] as const;

function xsSpan(u: uPlot): number {
  const xs = u.data[0];
  return xs.length > 1 ? xs[xs.length - 1]! - xs[0]! : 0;
}

function timeLabel(sec: number, span: number): string {
  const d = new Date(sec * 1000);
  return span > 6 * 3600 ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function Chart({ title, xs, ys, format, max }: { title: string; xs: number[]; ys: number[]; format: (v: number) => string; max?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>(null);
  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, dataMax) => [0, Math.max(max ?? 0, dataMax * 1.1, 1)] } },
      axes: [
        // Wall-clock labels (uPlot's default shows sub-second ticks when there are few points).
        { stroke: '#9aa5b1', grid: { stroke: '#26303b' }, space: 90, values: (_u, vals) => vals.map((v) => timeLabel(v, xsSpan(_u))) },
        { stroke: '#9aa5b1', grid: { stroke: '#26303b' }, size: 70, values: (_u, vals) => vals.map((v) => format(v)) },
      ],
      series: [{}, { label: title, stroke: '#4cc2ff', fill: 'rgba(76,194,255,0.15)', width: 2 }],
    };
    plot.current = new uPlot(opts, [[], []], el);
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: 180 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [title, max]);
  useEffect(() => plot.current?.setData([xs, ys]), [xs, ys]);
  const last = ys[ys.length - 1];
  return (
    <figure className="chart card" aria-label={`${title} chart`}>
      <figcaption>
        <strong>{title}</strong> <span className="muted">{last === undefined ? 'no data yet' : `now ${format(last)}`}</span>
      </figcaption>
      <div ref={box} className="chart-box" data-points={xs.length} />
    </figure>
  );
}

export function MetricsTab({ capsuleId }: { capsuleId: string }) {
  const [which, setWhich] = useState(0);
  const r = RANGES[which]!;
  const metrics = usePoll(() => api<{ points: MetricPoint[] }>('GET', `/capsules/${encodeURIComponent(capsuleId)}/metrics?range=${r.range}`), [capsuleId, r.range], r.every);
  const since = Date.now() / 1000 - r.keepSec;
  const points = (metrics.data?.points ?? []).map((p) => ({ ...p, t: new Date(p.ts).getTime() / 1000 })).filter((p) => p.t >= since);
  const xs = points.map((p) => p.t);
  const lastPoint = points[points.length - 1];
  return (
    <section aria-label="Metrics">
      <div className="toolbar" role="radiogroup" aria-label="Time range">
        {RANGES.map((x, i) => (
          <button key={x.range} type="button" role="radio" aria-checked={i === which} className={i === which ? 'primary' : undefined} onClick={() => setWhich(i)}>
            {x.label}
          </button>
        ))}
        <span className="muted small">Updates every {r.every / 1000} s</span>
      </div>
      <ErrorText error={metrics.error} />
      <div className="charts">
        <Chart title="CPU" xs={xs} ys={points.map((p) => p.cpu_pct)} format={(v) => `${v.toFixed(0)} %`} max={100} />
        <Chart title="Memory" xs={xs} ys={points.map((p) => p.mem_used_bytes)} format={bytes} max={lastPoint?.mem_total_bytes} />
        <Chart title="Disk" xs={xs} ys={points.map((p) => p.disk_used_bytes)} format={bytes} max={lastPoint?.disk_total_bytes} />
      </div>
    </section>
  );
}
