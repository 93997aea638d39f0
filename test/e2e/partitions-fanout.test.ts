// The deployed fan-out of partitioned iteration: the dispatches of a partitioned task's instances from one
// scheduler step start ONE execution of the `partitions` machine, whose Distributed Map starts each
// instance's `iterate` execution (under its deterministic name); the result is as before (every item's
// result in order, failing items retried alone), and an instance's retry (a single dispatch) starts its
// `iterate` execution directly. Executions are counted per machine on the harness.
import { describe, expect, it } from 'vitest';
import { dag, type TaskContext } from '../../lib/index.ts';
import { lifecycleExecutionName } from '../../lib/aws/sfn-dispatcher.ts';
import type { PartitionsInput } from '../../lib/compiler/index.ts';
import { useHarness } from './use-harness.ts';

/** Partitions and items per partition (`AIRLESS_E2E_PARTFAN=PxN` to try another size). */
const [PARTS, ITEMS] = (process.env['AIRLESS_E2E_PARTFAN'] ?? '20x200').split('x').map(Number) as [number, number];

/**
 * Runs of each (partition, item) by the instance's try (1 or 2), counted in the task's code (the harness runs
 * the handlers in this process). An item's invocation can be delivered again (at least once, as deployed), so
 * the ledger checks what holds then, as test/e2e/partitions.test.ts does: every item ran in try 1, an item
 * failing try 1 ran again in try 2, and an item that never fails did not run in try 2.
 */
const ledger = [new Uint8Array(PARTS * ITEMS), new Uint8Array(PARTS * ITEMS)] as const;
const failsTry1 = (k: number) => k % 997 === 0;
const failsAttempt1 = (k: number) => k % 89 === 0;

// Every partition queued at once (maxActiveTasks, the default pool's 128 slots), so one step dispatches
// them all; 2 items at once in each (the local engine gives an item's Task 60 s of real time: a few
// hundred items in flight at most on a busy machine).
const fanout = dag({ dagId: 'partitions_fanout', maxActiveTasks: Math.max(PARTS, 16), defaultArgs: { retries: 1, retryDelay: '30s' } }, ({ task }) => {
  const parts = task('parts', (): number[] => Array.from({ length: PARTS }, (_, i) => i));
  const items = task('item', (ctx: TaskContext, x: number) => {
    const k = ctx.mapIndex! * ITEMS + x;
    ledger[ctx.tryNumber - 1]![k]!++;
    if (failsTry1(k) && ctx.tryNumber === 1) throw new Error(`item ${x} of partition ${String(ctx.partition)} failed`);
    if (failsAttempt1(k) && ctx.item!.tryNumber === 1) throw new Error('flaky');
    return k;
  })
    .expand<number>(parts)
    .iterate(() => Array.from({ length: ITEMS }, (_, i) => i), { concurrency: 2, itemRetries: 1 });
  task('check', (_ctx, xs: number[][]) => xs.length === PARTS && xs.every((l, m) => l.length === ITEMS && l.every((v, i) => v === m * ITEMS + i)))(items);
});

describe(`${PARTS} partitions x ${ITEMS} items: one partitions execution starts them`, () => {
  const h = useHarness({ handlers: 'core', dags: [fanout] });

  it('one partitions execution, a child per partition starting its iterate execution by its deterministic name; results and retries as before', async () => {
    const runId = 'e2e__partfan';
    const run = await h().run({ dagId: 'partitions_fanout', runId });
    expect(run.state).toBe('success');
    expect((await h().store.getXCom(run, 'check', -1, 'return_value'))?.value).toBe(true);
    let retriedInPlace = 0;
    for (let k = 0; k < PARTS * ITEMS; k++) {
      const [first, second] = [ledger[0][k]!, ledger[1][k]!];
      const where = `item ${k % ITEMS} of partition ${Math.floor(k / ITEMS)}`;
      if (first < 1) throw new Error(`${where} did not run in try 1`);
      if (failsTry1(k) && second < 1) throw new Error(`${where} failed try 1 but did not run in try 2`);
      if (!failsTry1(k) && !failsAttempt1(k) && second !== 0) throw new Error(`${where} never fails but ran ${second} times in try 2`);
      if (failsAttempt1(k) && first > 1) retriedInPlace++;
    }
    // The flaky items were retried in place (itemRetries), inside try 1.
    expect(retriedInPlace).toBeGreaterThan(0);

    const { sfn, naming } = h();
    const ofRun = (machine: string) => sfn.executionsOf(machine).filter((e) => e.input.includes(runId));
    // ONE partitions execution for the run's PARTS instances, its Map a child per partition.
    const fan = ofRun(naming.lifecycle('partitions'));
    expect(fan).toHaveLength(1);
    expect(fan[0]!.status).toBe('SUCCEEDED');
    const input = JSON.parse(fan[0]!.input) as PartitionsInput;
    expect(input.instances.map((i) => [i.mapIndex, i.tryNumber])).toStrictEqual(Array.from({ length: PARTS }, (_, m) => [m, 1]));
    const children = sfn.executionsOf(`${naming.lifecycle('partitions')}/Partitions`).filter((e) => e.input.includes(runId));
    expect(children).toHaveLength(PARTS);
    expect(children.every((c) => c.status === 'SUCCEEDED')).toBe(true);

    // Each instance's try 1 is the iterate execution the child started, under the name startLifecycle
    // would give it; an instance with an item failing its first try was retried alone: a second iterate
    // execution, started directly (not through another partitions execution).
    const iterate = ofRun(naming.lifecycle('iterate'));
    let retried = 0;
    for (let m = 0; m < PARTS; m++) if (Array.from({ length: ITEMS }, (_, i) => m * ITEMS + i).some(failsTry1)) retried++;
    // At least one per instance's try (a reconcile's redispatch of a try whose execution ended unrun, on a busy machine, adds one).
    expect(iterate.length).toBeGreaterThanOrEqual(PARTS + retried);
    const names = new Set(iterate.map((e) => e.name));
    for (const i of input.instances) expect(names.has(i.name), i.name).toBe(true);
    const tis = await h().store.listTaskInstances(run);
    const flags = tis.filter((t) => t.taskId === 'item');
    expect(flags).toHaveLength(PARTS);
    for (const t of flags) {
      expect(t.state).toBe('success');
      // The last try's execution: named from the instance's queued version, as the reconcile and stopping find it.
      expect(names.has(lifecycleExecutionName({ ...t, startDate: null })), `${t.mapIndex} try ${t.tryNumber}`).toBe(true);
    }
    expect(h().errors).toStrictEqual([]);
  }, 3_600_000);
});
