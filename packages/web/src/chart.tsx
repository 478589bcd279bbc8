/** A line chart over time (uPlot): wall-clock labels for short spans, dates for days. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

function xsSpan(u: uPlot): number {
  const xs = u.data[0];
  return xs.length > 1 ? xs[xs.length - 1]! - xs[0]! : 0;
}

function timeLabel(sec: number, span: number, days: boolean): string {
  if (days || span >= 3 * 86400) return new Date(sec * 1000).toLocaleDateString([], { month: 'short', day: 'numeric' });
  const d = new Date(sec * 1000);
  return span > 6 * 3600 ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** `days`: one point per day, labelled with dates (else wall-clock times, dates past 3 days). */
export function Chart({ title, xs, ys, format, max, days = false }: { title: string; xs: number[]; ys: number[]; format: (v: number) => string; max?: number; days?: boolean }) {
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
        { stroke: '#9aa5b1', grid: { stroke: '#26303b' }, space: 90, values: (_u, vals) => vals.map((v) => timeLabel(v, xsSpan(_u), days)) },
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
  }, [title, max, days]);
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
