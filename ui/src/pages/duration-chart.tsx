import { useMemo } from 'react';
import { Link } from 'react-router';
import { ErrorBox } from '../components/error-box.tsx';
import { compactDate, runPath, useDagId } from '../dag-view.ts';
import { durationBetween, formatDate, formatDuration } from '../format.ts';
import { stateColor } from '../states.ts';
import { NoRuns, RunsPager, useShownRuns } from './grid-panel.tsx';
import '../charts.css';

const BAR_W = 16;
const GAP = 8;
const PLOT_H = 200;
const LEFT = 64;
const TOP = 12;
const BOTTOM = 64;

/** Round a duration up to a readable axis maximum (1, 2 or 5 times a power of ten seconds). */
function niceMax(seconds: number): number {
  if (seconds <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(seconds));
  for (const m of [1, 2, 5, 10]) if (m * p >= seconds) return m * p;
  return 10 * p;
}

/**
 * The run-duration chart of a DAG: one bar per run of the page the grid shows (same paging and filters),
 * as tall as the run was long (to now while it runs; queued time stacked below, lighter), coloured by its state.
 */
export function DurationChart() {
  const dagId = useDagId();
  const runs = useShownRuns(dagId);
  const base = `/dags/${encodeURIComponent(dagId)}`;
  const bars = useMemo(
    () =>
      [...(runs.data?.dag_runs ?? [])].reverse().map((r) => ({
        run: r,
        seconds: durationBetween(r.start_date, r.end_date) ?? 0,
        queued: r.start_date === null ? (durationBetween(r.queued_at, null) ?? 0) : Math.max(0, (durationBetween(r.queued_at, r.start_date) ?? 0)),
      })),
    [runs.data],
  );
  const max = niceMax(Math.max(0, ...bars.map((b) => b.seconds + b.queued)));
  const width = LEFT + Math.max(bars.length, 10) * (BAR_W + GAP) + GAP;
  const height = TOP + PLOT_H + BOTTOM;
  const y = (s: number) => TOP + PLOT_H - (PLOT_H * s) / max;
  const ticks = [0, max / 4, max / 2, (3 * max) / 4, max];
  const mean = bars.length === 0 ? null : bars.reduce((a, b) => a + b.seconds, 0) / bars.length;
  return (
    <div className="duration-chart-wrap" data-testid="duration-chart-panel">
      <RunsPager total={runs.data?.total_entries} shown={bars.length} loading={runs.isFetching && runs.isPlaceholderData} />
      <ErrorBox error={runs.error} />
      {bars.length === 0 && runs.isSuccess && <NoRuns total={runs.data.total_entries} />}
      <p className="muted small">
        Run durations, oldest on the left{mean === null ? '' : ` · mean ${formatDuration(mean)}`} · the lighter part of a bar is the time the run was queued.
      </p>
      <svg className="duration-chart" data-testid="duration-chart" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="group" aria-label={`durations of the ${bars.length} runs shown`}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={LEFT} x2={width} y1={y(t)} y2={y(t)} className="chart-gridline" />
            <text x={LEFT - 6} y={y(t) + 4} textAnchor="end" className="chart-tick" data-testid="duration-tick">
              {formatDuration(t)}
            </text>
          </g>
        ))}
        <line x1={LEFT} x2={LEFT} y1={TOP} y2={TOP + PLOT_H} className="chart-axis" />
        {bars.map(({ run, seconds, queued }, i) => {
          const x = LEFT + GAP + i * (BAR_W + GAP);
          const label = `${run.dag_run_id}: ${run.state}, ${formatDuration(seconds)} (queued ${formatDuration(queued)}), ${formatDate(run.logical_date)}`;
          return (
            <Link key={run.dag_run_id} to={runPath(base, run.dag_run_id)} aria-label={label} data-testid="duration-bar" data-run-id={run.dag_run_id} data-state={run.state} data-seconds={seconds.toFixed(3)}>
              <title>{label}</title>
              <rect x={x} y={y(queued)} width={BAR_W} height={Math.max(0, TOP + PLOT_H - y(queued))} fill={stateColor(run.state)} className="chart-queued" />
              <rect x={x} y={y(queued + seconds)} width={BAR_W} height={Math.max(1, y(queued) - y(queued + seconds))} fill={stateColor(run.state)} className="chart-bar" />
              <text x={x + BAR_W / 2} y={TOP + PLOT_H + 8} className="chart-tick" transform={`rotate(60 ${x + BAR_W / 2} ${TOP + PLOT_H + 8})`}>
                {compactDate(run.logical_date)}
              </text>
            </Link>
          );
        })}
      </svg>
    </div>
  );
}
