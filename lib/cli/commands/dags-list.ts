import type { ScheduleSpec } from '../../model/spec.ts';
import { palette, useColor } from '../ansi.ts';
import { loadBag, type GlobalOptions } from '../dag-lookup.ts';
import { displayPath } from '../format.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';

export interface ListOptions extends GlobalOptions {
  json?: boolean;
}

/** One DAG in `dags list --json`. */
export interface DagListEntry {
  dagId: string;
  /** The file, relative to the DAGs folder. */
  file: string | null;
  /** The schedule as written ('0 2 * * *', 'rate(5 minutes)', '@once'), null when triggered only. */
  schedule: string | null;
  tags: string[];
  tasks: number;
}

export function scheduleText(s: ScheduleSpec | null): string | null {
  if (s === null) return null;
  switch (s.kind) {
    case 'once':
      return '@once';
    case 'rate':
      return s.expression;
    case 'cron':
      return s.timezone === 'UTC' ? s.expression : `${s.expression} (${s.timezone})`;
  }
}

async function importErrorsHint(term: Terminal, n: number): Promise<void> {
  if (n) await term.err(`${n} file${n > 1 ? 's' : ''} failed to import; see: airless dags list-import-errors\n`);
}

/** `airless dags list`: every DAG with its file, schedule, tags and number of tasks. */
export async function dagsList(term: Terminal, o: ListOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const bag = await loadBag(term, o);
  const entries: DagListEntry[] = bag.dags.map((d) => ({
    dagId: d.dagId,
    file: d.spec.fileloc,
    schedule: scheduleText(d.spec.schedule),
    tags: d.spec.tags,
    tasks: d.spec.tasks.length,
  }));
  if (o.json) {
    await term.out(`${JSON.stringify(entries)}\n`);
  } else if (!entries.length) {
    await term.out(`No DAGs in ${displayPath(bag.folder) || '.'}\n`);
  } else {
    const p = palette(useColor(term.stdout));
    const rows = entries.map((e) => [p.bold(e.dagId), e.file ?? '', e.schedule ?? 'None', e.tags.join(', '), `${e.tasks}`]);
    await term.out(`${renderTable(['dag_id', 'file', 'schedule', 'tags', 'tasks'], rows, { alignRight: [4] })}\n`);
  }
  await importErrorsHint(term, bag.importErrors.length);
  return EXIT.ok;
}

/** `airless dags list-import-errors`: every file that failed to import, and why. Exit 0 even when there are some. */
export async function dagsListImportErrors(term: Terminal, o: ListOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const bag = await loadBag(term, o);
  if (o.json) {
    await term.out(`${JSON.stringify(bag.importErrors.map((e) => ({ file: e.file, error: e.error })))}\n`);
  } else if (!bag.importErrors.length) {
    await term.out(`No import errors in ${displayPath(bag.folder) || '.'}\n`);
  } else {
    const p = palette(useColor(term.stdout));
    const blocks = bag.importErrors.map((e) => `${p.bold(p.red(e.file))}\n${e.error.split('\n').map((l) => `  ${l}`).join('\n')}`);
    await term.out(`${blocks.join('\n\n')}\n`);
  }
  return EXIT.ok;
}
