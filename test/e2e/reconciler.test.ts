// The reconciler on the local cloud: the functions arm it when a run becomes active (as a deployed stack's
// do), its loop reconciles every active run each round on the harness's skipping clock, and it ends once no
// run is left. An idle stack makes no request at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFunctionUrl } from '../../e2e/function-url.ts';
import { RECONCILER_NAME } from '../../e2e/harness.ts';
import { unwrap, type ApiClient } from '../../lib/api/client.ts';
import type { ExecutionRecord } from '../../e2e/local-sfn.ts';
import { reconcilerExecutionName, type ReconcilerInput } from '../../lib/compiler/reconciler.ts';
import { ReconcilerFlag } from '../../lib/aws/reconciler.ts';
import { startDeployedApi } from './deployed-api.ts';
import { useHarness } from './use-harness.ts';

const h = useHarness({ reconciler: true });

const WEEK_MS = 7 * 86_400_000;

function loops(): ExecutionRecord[] {
  return h().sfn.executionsOf(RECONCILER_NAME);
}

function flag(): ReconcilerFlag {
  return new ReconcilerFlag(h().store.doc, h().store.tableName);
}

/** Let a week of harness time pass with nothing in flight; returns what was counted meanwhile. */
async function idleWeek() {
  h().meter.reset();
  const executions = h().sfn.executions.size;
  const invocations = h().invocations.length;
  const from = h().clock.now();
  await h().clock.sleepUntil(from + WEEK_MS);
  await h().settle();
  expect(h().clock.now()).toBeGreaterThanOrEqual(from + WEEK_MS);
  const t = h().meter.total();
  return { ddbRequests: t.ddbRequests, lambdaInvocations: t.lambdaInvocations, executions: t.executions + (h().sfn.executions.size - executions), transitions: t.transitions, invocations: h().invocations.length - invocations };
}

const NOTHING = { ddbRequests: 0, lambdaInvocations: 0, executions: 0, transitions: 0, invocations: 0 };

describe('the reconciler runs only while runs are active', () => {
  it('an idle stack makes no request over a week', async () => {
    expect(await idleWeek()).toStrictEqual(NOTHING);
    expect(loops()).toStrictEqual([]);
    expect((await flag().get()).armed).toBe(false);
  });

  it('the first run arms it; its loop ends at the first round that finds no run, and nothing runs after', async () => {
    const run = await h().run({ dagId: 'e2e_chain', runId: 'e2e__reconciler_first' });
    expect(run.state).toBe('success');

    const [loop, ...more] = loops();
    expect(more).toStrictEqual([]);
    const input = JSON.parse(loop!.input) as ReconcilerInput;
    expect(input.loop).toMatchObject({ epoch: 1, generation: 0, round: 0, intervalSeconds: 300 });
    expect(loop!.name).toBe(reconcilerExecutionName(input.loop));
    expect(loop!.status).toBe('SUCCEEDED');
    // One round, a whole interval after the arming: the run had ended, no arm came since, so it disarmed.
    expect(loop!.path).toStrictEqual(['Sleep', 'Reconcile', 'Decide', 'Done']);
    expect(JSON.parse(loop!.output!)).toMatchObject({ next: 'done' });
    const f = await flag().get();
    expect(f).toMatchObject({ armed: false, epoch: 1, rounds: 1, seq: input.loop.seq });
    const rounds = h().invocations.filter((i) => (i.payload as { type?: string }).type === 'reconcile');
    expect(rounds.map((i) => i.payload)).toStrictEqual([{ type: 'reconcile', loop: input.loop }]);

    expect(await idleWeek()).toStrictEqual(NOTHING);
    expect(h().errors).toStrictEqual([]);
  });

  it('repairs a lost StartExecution while the run is active, then ends after the run', async () => {
    const runId = 'e2e__reconciler_lost';
    const ref = { dagId: 'e2e_chain', runId };
    const transform = h().naming.lifecycle('try');
    const isTransform = (input: unknown) => (input as { key?: { taskId?: string } }).key?.taskId === 'transform';
    const before = loops().length;
    let lost = false;
    h().sfn.onStartExecution = (req) => {
      if (req.stateMachineName !== transform || !isTransform(req.input) || lost) return;
      lost = true;
      return 'drop';
    };
    try {
      // Nothing but the reconciler's rounds can start the dropped lifecycle: the run ends only if they do.
      const run = await h().run({ dagId: 'e2e_chain', runId });
      expect(run.state).toBe('success');
    } finally {
      h().sfn.onStartExecution = null;
    }
    const dropped = h().sfn.dropped.filter((d) => d.stateMachineName === transform && isTransform(d.input));
    expect(dropped).toHaveLength(1);
    // Re-dispatched under the name the lost request had.
    expect(h().sfn.executionsOf(transform).filter((e) => e.input.includes(runId) && isTransform(JSON.parse(e.input))).map((e) => [e.name, e.status])).toStrictEqual([[dropped[0]!.name, 'SUCCEEDED']]);
    expect((await h().store.listTaskInstances(ref)).map((t) => [t.taskId, t.state, t.tryNumber])).toStrictEqual([
      ['extract', 'success', 1],
      ['load', 'success', 1],
      ['transform', 'success', 1],
    ]);

    const added = loops().slice(before);
    expect(added.map((e) => e.status)).toStrictEqual(['SUCCEEDED']);
    const input = JSON.parse(added[0]!.input) as ReconcilerInput;
    expect(input.loop.epoch).toBe(2);
    // A round found the run active (and repaired it); the last found none and ended the loop.
    const path = added[0]!.path;
    expect(path.filter((s) => s === 'Reconcile').length).toBeGreaterThanOrEqual(2);
    expect(path.slice(-3)).toStrictEqual(['Reconcile', 'Decide', 'Done']);
    expect(await flag().get()).toMatchObject({ armed: false, epoch: 2 });

    expect(await idleWeek()).toStrictEqual(NOTHING);
    expect(h().errors).toStrictEqual([]);
  });

  it('two runs created at once arm it once', async () => {
    const before = loops().length;
    const seqBefore = (await flag().get()).seq;
    const runs = await Promise.all([
      h().trigger({ dagId: 'e2e_chain', runId: 'e2e__reconciler_a' }),
      h().trigger({ dagId: 'e2e_chain', runId: 'e2e__reconciler_b' }),
    ]);
    expect(runs.map((r) => r.state).sort()).toStrictEqual(['running', 'running']);
    await h().settle();

    for (const runId of ['e2e__reconciler_a', 'e2e__reconciler_b']) expect((await h().store.getRun({ dagId: 'e2e_chain', runId }))?.state).toBe('success');
    const added = loops().slice(before);
    expect(added.map((e) => e.status)).toStrictEqual(['SUCCEEDED']);
    expect((JSON.parse(added[0]!.input) as ReconcilerInput).loop.epoch).toBe(3);
    expect(await flag().get()).toMatchObject({ armed: false, epoch: 3, seq: seqBefore + 2 });

    expect(await idleWeek()).toStrictEqual(NOTHING);
    expect(h().errors).toStrictEqual([]);
  });
});

describe('the API arms it when it makes a run active', () => {
  const REGION = 'eu-west-1';
  const CALLER = { accessKeyId: 'AKIDRECONCILE', secretAccessKey: 'reconcile-e2e-secret' };
  let url: LocalFunctionUrl;
  let api: ApiClient;

  beforeAll(async () => {
    ({ url, api } = await startDeployedApi(CALLER, REGION));
  });
  afterAll(async () => {
    await url?.close();
  });

  it('a trigger, then a clear that reopens the finished run: each starts a loop, which ends after the run', async () => {
    const runId = 'e2e__reconciler_api';
    const path = { dag_id: 'e2e_chain' };
    const before = loops().length;
    const epoch = (await flag().get()).epoch;
    unwrap(await api.POST('/api/v2/dags/{dag_id}/dagRuns', { params: { path }, body: { dag_run_id: runId } }));
    await h().settle();
    expect((await h().store.getRun({ dagId: 'e2e_chain', runId }))?.state).toBe('success');
    expect(loops().slice(before).map((e) => [(JSON.parse(e.input) as ReconcilerInput).loop.epoch, e.status])).toStrictEqual([[epoch + 1, 'SUCCEEDED']]);

    unwrap(await api.POST('/api/v2/dags/{dag_id}/clearTaskInstances', { params: { path }, body: { dag_run_id: runId, task_ids: ['load'], dry_run: false } }));
    await h().settle();
    expect((await h().store.getRun({ dagId: 'e2e_chain', runId }))?.state).toBe('success');
    expect((await h().store.getTaskInstance({ dagId: 'e2e_chain', runId, taskId: 'load', mapIndex: -1 }))?.tryNumber).toBe(2);
    expect(loops().slice(before).map((e) => [(JSON.parse(e.input) as ReconcilerInput).loop.epoch, e.status])).toStrictEqual([
      [epoch + 1, 'SUCCEEDED'],
      [epoch + 2, 'SUCCEEDED'],
    ]);
    expect(await flag().get()).toMatchObject({ armed: false, epoch: epoch + 2 });
    expect(await idleWeek()).toStrictEqual(NOTHING);
    expect(h().errors).toStrictEqual([]);
  });
});
