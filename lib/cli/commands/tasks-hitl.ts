/**
 * `airless tasks respond DAG RUN TASK --option ...` and `airless tasks pending`: human-in-the-loop requests
 * on the server, through its API (`hitlDetails`). The answer is given as the API's caller (the standalone's
 * token user, `AIRLESS_API_USER` or the OS user there; deployed, the IAM principal that signs).
 */
import { ok, requireRemote, type Remote, type RemoteOptions, type Schemas } from '../remote.ts';
import { renderTable } from '../table.ts';
import type { Terminal } from '../terminal.ts';
import { EXIT, UsageError } from '../usage-error.ts';

type HitlDetail = Schemas['HITLDetail'];

export interface TasksRespondOptions extends RemoteOptions {
  /** The instance of a mapped task. Default -1 (not mapped). */
  mapIndex?: number;
  /** The options chosen. Default: `['OK']` for a form, else required. */
  option?: string[];
  /** A form's values as `key=value` (the value read as JSON when it is JSON, else as text). Default none. */
  input?: string[];
  /** A form's values as one JSON object. Default none. */
  inputJson?: string;
  /** Print the API's HITLDetail object. Default false. */
  json?: boolean;
}

export interface TasksPendingOptions extends RemoteOptions {
  /** Only this DAG's requests. Default: every DAG's. */
  dagId?: string;
  /** Only this run's requests. Default: every run's. */
  runId?: string;
  /** Print the API's HITLDetail objects. Default false. */
  json?: boolean;
}

/** `--input key=value ...` and `--input-json`, as one object (a key given twice, or both forms, is refused). */
export function formValues(o: Pick<TasksRespondOptions, 'input' | 'inputJson'>): Record<string, unknown> | undefined {
  if (o.inputJson !== undefined && o.input?.length) throw new UsageError('give the form values either with --input key=value or with --input-json, not both');
  if (o.inputJson !== undefined) {
    let v: unknown;
    try {
      v = JSON.parse(o.inputJson);
    } catch (e) {
      throw new UsageError(`--input-json is not JSON: ${(e as Error).message}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('--input-json must be a JSON object of field values');
    return v as Record<string, unknown>;
  }
  if (!o.input?.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const pair of o.input) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--input ${JSON.stringify(pair)}: expected key=value`);
    const key = pair.slice(0, eq);
    if (Object.hasOwn(out, key)) throw new UsageError(`--input: field '${key}' is given twice`);
    const text = pair.slice(eq + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    out[key] = value;
  }
  return out;
}

function tiPath(dagId: string, runId: string, taskId: string) {
  return { dag_id: dagId, dag_run_id: runId, task_id: taskId };
}

async function current(remote: Remote, dagId: string, runId: string, taskId: string, mapIndex: number): Promise<HitlDetail> {
  if (mapIndex < 0) return ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/hitlDetails', { params: { path: tiPath(dagId, runId, taskId) } }));
  return ok(remote, remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails', { params: { path: { ...tiPath(dagId, runId, taskId), map_index: mapIndex } } }));
}

export async function tasksRespond(term: Terminal, dagId: string, runId: string, taskId: string, o: TasksRespondOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const values = formValues(o);
  const remote = await requireRemote(o);
  const mapIndex = o.mapIndex ?? -1;
  let options = o.option ?? [];
  if (options.length === 0) {
    // A form's one option is OK; anything else needs --option.
    const req = await current(remote, dagId, runId, taskId, mapIndex);
    if (req.options.length === 1 && req.options[0] === 'OK') options = ['OK'];
    else throw new UsageError(`choose with --option (options: ${req.options.join(', ')})`);
  }
  const body = { chosen_options: options, ...(values !== undefined ? { params_input: values } : {}) };
  const answered =
    mapIndex < 0
      ? await ok(remote, remote.api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/hitlDetails', { params: { path: tiPath(dagId, runId, taskId) }, body }))
      : await ok(remote, remote.api.PATCH('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails', { params: { path: { ...tiPath(dagId, runId, taskId), map_index: mapIndex } }, body }));
  if (o.json) await term.out(`${JSON.stringify(answered)}\n`);
  else {
    const fields = answered.params_input && Object.keys(answered.params_input).length ? ` ${JSON.stringify(answered.params_input)}` : '';
    await term.out(`answered "${answered.subject}" (${taskId}${mapIndex >= 0 ? ` [${mapIndex}]` : ''} of run ${runId} of ${dagId}): ${(answered.chosen_options ?? []).join(', ')}${fields} as ${answered.responded_by_user?.id ?? 'an unknown user'}\n`);
  }
  return EXIT.ok;
}

export async function tasksPending(term: Terminal, o: TasksPendingOptions): Promise<number> {
  if (o.json) term.reserveStdout();
  const remote = await requireRemote(o);
  const all: HitlDetail[] = [];
  for (;;) {
    const page = await ok(
      remote,
      remote.api.GET('/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails', { params: { path: { dag_id: o.dagId ?? '~', dag_run_id: o.runId ?? '~' }, query: { state: 'pending', limit: 1000, offset: all.length } } }),
    );
    all.push(...page.hitl_details);
    if (page.hitl_details.length === 0 || all.length >= page.total_entries) break;
  }
  if (o.json) {
    await term.out(`${JSON.stringify(all)}\n`);
    return EXIT.ok;
  }
  if (all.length === 0) {
    await term.out('no request is waiting for an answer\n');
    return EXIT.ok;
  }
  const rows = all.map((d) => [
    d.dag_id,
    d.dag_run_id,
    d.map_index >= 0 ? `${d.task_id} [${d.map_index}]` : d.task_id,
    d.subject,
    `${d.options.join(' | ')}${d.multiple ? ' (several)' : ''}${d.params ? ` + ${Object.keys(d.params).join(', ')}` : ''}`,
    d.assigned_users.map((u) => u.id).join(', ') || 'anyone',
    d.timeout_at ?? '',
  ]);
  await term.out(`${renderTable(['dag_id', 'run_id', 'task', 'subject', 'options', 'assigned', 'timeout_at'], rows)}\n`);
  const first = all[0]!;
  await term.out(`answer with: airless tasks respond ${first.dag_id} ${first.dag_run_id} ${first.task_id}${first.map_index >= 0 ? ` --map-index ${first.map_index}` : ''} --option ${JSON.stringify(first.options[0])}\n`);
  return EXIT.ok;
}
