/** Task instances of a run: list, get (with tries), mapped instances, logs by try, XCom entries. */
import type { Dag } from '../../authoring/dag.ts';
import type { TaskSpec } from '../../model/spec.ts';
import type { DagRunRecord, TaskInstanceRecord } from '../../store/records.ts';
import type { ApiBackend } from '../backend.ts';
import { HttpError } from '../http-error.ts';
import { findDag, findRun, findTask, findTaskInstance } from '../lookup.ts';
import { noInstance, toLog, toTaskInstance, toXCom, triesOf, type TaskInstanceResponse } from '../mappers.ts';
import { P, Q, R, responses } from '../schemas.ts';
import type { RouteContext } from './context.ts';

interface RunParams {
  dag_id: string;
  dag_run_id: string;
}
interface TiParams extends RunParams {
  task_id: string;
}

/** The run, and its DAG as the run knows it: the version it runs (a reloaded DAG may have tasks it does not), else the latest. */
async function runOf(backend: ApiBackend, p: RunParams): Promise<{ dag: Dag; run: DagRunRecord }> {
  const latest = findDag(backend, p.dag_id);
  const run = await findRun(backend, latest, p.dag_run_id);
  return { dag: backend.dags.getDag(run.dagId, run.dagVersion) ?? latest, run };
}

async function tiOf(backend: ApiBackend, p: TiParams, mapIndex: number): Promise<{ dag: Dag; run: DagRunRecord; t: TaskSpec; ti: TaskInstanceRecord }> {
  const { dag, run } = await runOf(backend, p);
  const t = findTask(dag, p.task_id);
  return { dag, run, t, ti: await findTaskInstance(backend, run, t, mapIndex) };
}

function detail(ti: TaskInstanceRecord, t: TaskSpec) {
  return { ...toTaskInstance(ti, t), tries: triesOf(ti) };
}

export function taskInstanceRoutes({ app, backend }: RouteContext): void {
  app.get<{ Params: RunParams }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances',
    {
      schema: {
        summary: "List a run's task instances",
        description: 'Every task of the DAG appears: each instance (every map index of a mapped task), or, for a task with no instance yet, one entry with state null and map_index -1.',
        tags: ['TaskInstance'],
        operationId: 'get_task_instances',
        params: P.run,
        response: responses(R.taskInstances),
      },
    },
    async (request) => {
      const { dag, run } = await runOf(backend, request.params);
      const byTask = new Map<string, TaskInstanceRecord[]>();
      for (const ti of await backend.store.listTaskInstances(run)) {
        const l = byTask.get(ti.taskId) ?? [];
        l.push(ti);
        byTask.set(ti.taskId, l);
      }
      const out: TaskInstanceResponse[] = [];
      for (const t of dag.spec.tasks) {
        const tis = byTask.get(t.taskId);
        if (tis?.length) out.push(...tis.map((ti) => toTaskInstance(ti, t)));
        else out.push(noInstance(run, t));
      }
      return { task_instances: out, total_entries: out.length };
    },
  );

  app.get<{ Params: TiParams }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id',
    { schema: { summary: 'Get a task instance (not mapped) with its tries', tags: ['TaskInstance'], operationId: 'get_task_instance', params: P.ti, response: responses(R.taskInstance) } },
    async (request) => {
      const { t, ti } = await tiOf(backend, request.params, -1);
      return detail(ti, t);
    },
  );

  app.get<{ Params: TiParams }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/listMapped',
    { schema: { summary: 'List the instances of a mapped task', tags: ['TaskInstance'], operationId: 'get_mapped_task_instances', params: P.ti, response: responses(R.taskInstances) } },
    async (request) => {
      const { dag, run } = await runOf(backend, request.params);
      const t = findTask(dag, request.params.task_id);
      const tis = (await backend.store.listTaskInstances(run, t.taskId)).filter((ti) => ti.mapIndex >= 0);
      return { task_instances: tis.map((ti) => toTaskInstance(ti, t)), total_entries: tis.length };
    },
  );

  app.get<{ Params: TiParams & { map_index: number } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/:map_index',
    { schema: { summary: 'Get a task instance by map index, with its tries', tags: ['TaskInstance'], operationId: 'get_mapped_task_instance', params: P.tiMapped, response: responses(R.taskInstance) } },
    async (request) => {
      const { t, ti } = await tiOf(backend, request.params, request.params.map_index);
      return detail(ti, t);
    },
  );

  app.get<{ Params: TiParams & { try_number: number }; Querystring: { map_index: number } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/logs/:try_number',
    { schema: { summary: 'The log of one try', tags: ['TaskInstance'], operationId: 'get_log', params: P.log, querystring: Q.mapIndex, response: responses(R.log) } },
    async (request) => {
      const { ti } = await tiOf(backend, request.params, request.query.map_index);
      const n = request.params.try_number;
      if (n > ti.tryNumber) {
        throw new HttpError(404, `task instance '${ti.taskId}' [map index ${ti.mapIndex}] of DAG run '${ti.runId}' has no try ${n} (tries so far: ${ti.tryNumber})`, 'params.try_number', { dagId: ti.dagId, taskId: ti.taskId });
      }
      return toLog(await backend.store.getLog({ dagId: ti.dagId, runId: ti.runId, taskId: ti.taskId, mapIndex: ti.mapIndex }, n));
    },
  );

  app.get<{ Params: TiParams; Querystring: { map_index?: number } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/xcomEntries',
    {
      schema: {
        summary: "A task's XCom entries",
        description: "The task's XComs, every key (its result is key return_value; others were pushed with xcomPush), of every map index or of the one given; by key, then map index.",
        tags: ['XCom'],
        operationId: 'get_xcom_entries',
        params: P.ti,
        querystring: Q.xcomList,
        response: responses(R.xcomEntries),
      },
    },
    async (request) => {
      const { dag, run } = await runOf(backend, request.params);
      const t = findTask(dag, request.params.task_id);
      const mi = request.query.map_index;
      const all = await backend.store.listTaskXComs(run, t.taskId);
      const xs = mi === undefined ? all : all.filter((x) => x.mapIndex === mi);
      return { xcom_entries: xs.map((x) => toXCom(x, dag.dagId)), total_entries: xs.length };
    },
  );

  app.get<{ Params: TiParams & { xcom_key: string }; Querystring: { map_index: number } }>(
    '/api/v2/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/xcomEntries/:xcom_key',
    { schema: { summary: 'One XCom entry', tags: ['XCom'], operationId: 'get_xcom_entry', params: P.xcom, querystring: Q.mapIndex, response: responses(R.xcomEntry) } },
    async (request) => {
      const { dag, run } = await runOf(backend, request.params);
      const t = findTask(dag, request.params.task_id);
      const { xcom_key } = request.params;
      const mi = request.query.map_index;
      const x = await backend.store.getXCom(run, t.taskId, mi, xcom_key);
      if (!x) throw new HttpError(404, `no XCom '${xcom_key}' of task '${t.taskId}' [map index ${mi}] in DAG run '${run.runId}' (DAG '${dag.dagId}')`, 'params.xcom_key', { dagId: dag.dagId, taskId: t.taskId });
      return toXCom(x, dag.dagId);
    },
  );
}
