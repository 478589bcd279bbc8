/** The Metrics tab: CPU, memory and disk over 5 min / 1 h / 24 h, polled while shown. */
import { useState } from 'react';
import { api } from '../api';
import { usePoll } from '../hooks';
import type { MetricPoint } from '../types';
import { bytes, ErrorText } from '../ui';
import { Chart } from '../chart';

// The server's ranges are 5m, 10m, 2h and 24h; "1 h" is the last hour of 2h.
const RANGES = [
  { label: '5 min', range: '5m', keepSec: 300, every: 2000 },
  { label: '1 h', range: '2h', keepSec: 3600, every: 30_000 },
  { label: '24 h', range: '24h', keepSec: 86400, every: 60_000 },
] as const;

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
