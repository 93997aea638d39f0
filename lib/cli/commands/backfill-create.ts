import { palette, useColor } from '../ansi.ts';
import { parseConf } from '../conf.ts';
import { paintState } from '../format.ts';
import { ok, requireRemote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';
import { tableTime } from './dags-list-runs.ts';

import type { REPROCESS_BEHAVIORS } from '../conf.ts';

export interface BackfillCreateOptions extends RemoteOptions {
  dagId: string;
  /** The first logical date (ISO-8601; a date alone is midnight UTC). */
  fromDate: string;
  /** The last logical date (ISO-8601; a date alone is midnight UTC). */
  toDate: string;
  /** What to do with dates that already have a run: none (skip them), failed (rerun failed ones), completed (rerun every finished one). Default none. */
  reprocessBehavior?: (typeof REPROCESS_BEHAVIORS)[number];
  /** Runs of the backfill at once (apart from the DAG's own limit). Default: the server's (10). */
  maxActiveRuns?: number;
  /** The conf of every run, as JSON. Default '{}'. */
  conf?: string;
  /** Show the logical dates and what would happen to each, and change nothing. Default false. */
  dryRun?: boolean;
  /** Print the API's answer as JSON. Default false. */
  json?: boolean;
}

/** A date option as the API wants it (date-time); a date alone is midnight UTC. */
function dateTime(value: string, option: string): string {
  const d = new Date(/^\d{4}-\d\d-\d\d$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${option} '${value}' is not a date (ISO-8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)`);
  return d.toISOString();
}

function renderBackfill(b: Schemas['Backfill'], p: ReturnType<typeof palette>): string {
  const c = b.counts;
  return [
    `Backfill ${p.bold(b.id)} of DAG '${b.dag_id}' ${b.state === 'completed' ? p.green(b.state) : p.yellow(b.state)}`,
    `  dates ${tableTime(b.from_date)} .. ${tableTime(b.to_date)}, reprocess ${b.reprocess_behavior}, max ${b.max_active_runs} runs at once`,
    `  ${c.dates} logical dates: ${c.created} runs created, ${c.cleared} cleared to run again, ${c.skipped} skipped`,
    `  follow it with: airless dags list-runs ${b.dag_id}`,
  ].join('\n');
}

/**
 * `airless backfill create --dag-id D --from-date A --to-date B`: runs for the schedule's logical dates
 * in [A, B], limited by the backfill's own max active runs. `--dry-run` lists the dates and what would
 * happen to each.
 */
export async function backfillCreate(term: Terminal, o: BackfillCreateOptions): Promise<number> {
  const json = o.json === true;
  if (json) term.reserveStdout();
  const body = {
    dag_id: o.dagId,
    from_date: dateTime(o.fromDate, '--from-date'),
    to_date: dateTime(o.toDate, '--to-date'),
    ...(o.reprocessBehavior !== undefined ? { reprocess_behavior: o.reprocessBehavior } : {}),
    ...(o.maxActiveRuns !== undefined ? { max_active_runs: o.maxActiveRuns } : {}),
    ...(o.conf !== undefined ? { dag_run_conf: parseConf(o.conf) } : {}),
  };
  const remote = await requireRemote(o);
  const p = palette(!json && useColor(term.stdout));
  if (o.dryRun === true) {
    const { backfills: dates } = await ok(remote, remote.api.POST('/api/v2/backfills/dry_run', { body }));
    if (json) {
      await term.out(`${JSON.stringify(dates)}\n`);
      return EXIT.ok;
    }
    const rows = dates.map((d) => [tableTime(d.logical_date), d.action, d.dag_run_id ?? '', d.existing_state === null ? '' : paintState(d.existing_state, p), d.reason ?? '']);
    await term.out(`Dry run, nothing created: ${dates.length} logical date${dates.length === 1 ? '' : 's'}\n${renderTable(['logical_date', 'action', 'run_id', 'existing_state', 'reason'], rows)}\n`);
    return EXIT.ok;
  }
  const backfill = await ok(remote, remote.api.POST('/api/v2/backfills', { body }));
  await term.out(json ? `${JSON.stringify(backfill)}\n` : `${renderBackfill(backfill, p)}\n`);
  return EXIT.ok;
}
