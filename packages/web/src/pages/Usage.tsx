/** The team's daily usage: vCPU-minutes and memory (GB-hours) per day over the last 30 days. */
import { api } from '../api';
import { Chart } from '../chart';
import { usePoll } from '../hooks';
import type { UsageDay } from '../types';
import { Empty, ErrorText, Table } from '../ui';

const gbHours = (mbMinutes: number) => mbMinutes / 1024 / 60;
/** Two significant digits below 10 (a short run is a small number, not 0.00), whole numbers above. */
const amount = (v: number) => (v === 0 ? '0' : v < 10 ? v.toPrecision(2) : v.toFixed(0));

export function UsagePage() {
  const usage = usePoll(() => api<{ from: string; to: string; points: UsageDay[] }>('GET', '/capsules/usage'), [], 60_000);
  const days = usage.data?.points ?? [];
  const xs = days.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000);
  const total = days.reduce((a, d) => ({ cpu: a.cpu + d.cpu_minutes, ram: a.ram + d.ram_mb_minutes }), { cpu: 0, ram: 0 });
  return (
    <>
      <header className="page-head">
        <h1>Usage</h1>
      </header>
      <p className="muted">
        {usage.data ? `${usage.data.from} to ${usage.data.to} (UTC): ` : ''}
        {amount(total.cpu)} vCPU-minutes and {amount(gbHours(total.ram))} GB-hours of memory, counted while capsules run (paused capsules cost nothing).
      </p>
      <ErrorText error={usage.error} />
      {usage.data && days.every((d) => d.cpu_minutes === 0 && d.ram_mb_minutes === 0) ? (
        <Empty>No usage yet: it is counted while your capsules run.</Empty>
      ) : (
        <>
          <div className="charts">
            <Chart title="CPU (vCPU-minutes per day)" xs={xs} ys={days.map((d) => d.cpu_minutes)} format={amount} days />
            <Chart title="Memory (GB-hours per day)" xs={xs} ys={days.map((d) => gbHours(d.ram_mb_minutes))} format={amount} days />
          </div>
          <Table
            caption="Usage per day"
            rows={[...days].reverse()}
            rowKey={(d) => d.date}
            columns={[
              { header: 'Day', cell: (d) => d.date, className: 'nowrap' },
              { header: 'vCPU-minutes', cell: (d) => amount(d.cpu_minutes) },
              { header: 'Memory GB-hours', cell: (d) => amount(gbHours(d.ram_mb_minutes)) },
            ]}
          />
        </>
      )}
    </>
  );
}
