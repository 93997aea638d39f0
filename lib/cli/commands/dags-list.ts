import { scheduleText } from '../../model/schedule.ts';
import { palette, useColor } from '../ansi.ts';
import { loadBag } from '../dag-lookup.ts';
import { displayPath } from '../format.ts';
import { ok, remoteOrFolder, type Remote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT } from '../usage-error.ts';

export interface ListOptions extends RemoteOptions {
  json?: boolean;
}

/** One DAG in `dags list --json` (the same shape from a server and from the DAGs folder). */
export interface DagListEntry {
  dagId: string;
  /** The file, relative to the DAGs folder. */
  file: string | null;
  /** The schedule as written ('0 2 * * *', 'rate(5 minutes)', '@once'), null when triggered only. */
  schedule: string | null;
  tags: string[];
  tasks: number;
  /** Whether the server has the DAG paused; null when the answer is the DAGs folder's (no server). */
  paused: boolean | null;
  /** The server lists it although its file fails to import now (its last loaded version); absent otherwise. */
  importError?: true;
}

/** Items per page when the CLI reads a whole listing. */
const PAGE = 100;

async function importErrorsHint(term: Terminal, n: number): Promise<void> {
  if (n) await term.err(`${n} file${n > 1 ? 's' : ''} failed to import; see: airless dags list-import-errors\n`);
}

/** Every DAG of the server (every page). */
export async function remoteDags(remote: Remote): Promise<Schemas['DAG'][]> {
  const dags: Schemas['DAG'][] = [];
  for (;;) {
    const page = await ok(remote, remote.api.GET('/api/v2/dags', { params: { query: { limit: PAGE, offset: dags.length } } }));
    dags.push(...page.dags);
    if (!page.dags.length || dags.length >= page.total_entries) return dags;
  }
}

/** The server's import errors, as the folder gives them. */
export async function remoteImportErrors(remote: Remote): Promise<{ file: string; error: string }[]> {
  const errors: { file: string; error: string }[] = [];
  for (;;) {
    const page = await ok(remote, remote.api.GET('/api/v2/importErrors', { params: { query: { limit: PAGE, offset: errors.length } } }));
    errors.push(...page.import_errors.map((e) => ({ file: e.filename, error: e.stack_trace })));
    if (!page.import_errors.length || errors.length >= page.total_entries) return errors;
  }
}

async function listFromServer(remote: Remote): Promise<{ entries: DagListEntry[]; importErrors: number; where: string }> {
  const dags = await remoteDags(remote);
  const entries = await Promise.all(
    dags.map(async (d): Promise<DagListEntry> => {
      const tasks = await ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/tasks', { params: { path: { dag_id: d.dag_id } } }));
      return { dagId: d.dag_id, file: d.fileloc, schedule: d.timetable_summary, tags: d.tags, tasks: tasks.total_entries, paused: d.is_paused, ...(d.has_import_errors ? { importError: true as const } : {}) };
    }),
  );
  const errors = await ok(remote, remote.api.GET('/api/v2/importErrors', { params: { query: { limit: 1 } } }));
  return { entries, importErrors: errors.total_entries, where: remote.target.description };
}

async function listFromFolder(term: Terminal, o: ListOptions): Promise<{ entries: DagListEntry[]; importErrors: number; where: string }> {
  const bag = await loadBag(term, o);
  const entries = bag.dags.map((d) => ({
    dagId: d.dagId,
    file: d.spec.fileloc,
    schedule: scheduleText(d.spec.schedule),
    tags: d.spec.tags,
    tasks: d.spec.tasks.length,
    paused: null,
  }));
  return { entries, importErrors: bag.importErrors.length, where: displayPath(bag.folder) || '.' };
}

/** `airless dags list`: every DAG with its file, schedule, tags, number of tasks and whether it is paused. */
export async function dagsList(term: Terminal, o: ListOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await remoteOrFolder(term, o);
  const { entries, importErrors, where } = remote ? await listFromServer(remote) : await listFromFolder(term, o);
  if (o.json) {
    await term.out(`${JSON.stringify(entries)}\n`);
  } else if (!entries.length) {
    await term.out(`No DAGs in ${where}\n`);
  } else {
    const p = palette(useColor(term.stdout));
    const paused = (e: DagListEntry) => (e.paused === null ? '-' : e.paused ? p.yellow('yes') : 'no');
    const rows = entries.map((e) => [`${p.bold(e.dagId)}${e.importError ? ` ${p.red('(import error)')}` : ''}`, e.file ?? '', e.schedule ?? 'None', e.tags.join(', '), `${e.tasks}`, paused(e)]);
    await term.out(`${renderTable(['dag_id', 'file', 'schedule', 'tags', 'tasks', 'paused'], rows, { alignRight: [4] })}\n`);
  }
  await importErrorsHint(term, importErrors);
  return EXIT.ok;
}

/** `airless dags list-import-errors`: every file that failed to import, and why. Exit 0 even when there are some. */
export async function dagsListImportErrors(term: Terminal, o: ListOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await remoteOrFolder(term, o);
  let errors: { file: string; error: string }[];
  let where: string;
  if (remote) {
    errors = await remoteImportErrors(remote);
    where = remote.target.description;
  } else {
    const bag = await loadBag(term, o);
    errors = bag.importErrors.map((e) => ({ file: e.file, error: e.error }));
    where = displayPath(bag.folder) || '.';
  }
  if (o.json) {
    await term.out(`${JSON.stringify(errors)}\n`);
  } else if (!errors.length) {
    await term.out(`No import errors in ${where}\n`);
  } else {
    const p = palette(useColor(term.stdout));
    const blocks = errors.map((e) => `${p.bold(p.red(e.file))}\n${e.error.split('\n').map((l) => `  ${l}`).join('\n')}`);
    await term.out(`${blocks.join('\n\n')}\n`);
  }
  return EXIT.ok;
}
