// Partitioned iteration in the deployed shape: each instance (a partition) runs the iteration lifecycle
// (`iterate_prepare` → a Map over its items → `iterate_complete`, which reports), its items function run
// in `iterate_prepare`; a retry of one instance reruns only its failed items.
import { describe, expect, it } from 'vitest';
import { dag, FakeClock, LocalRunner, type TaskContext } from '../../lib/index.ts';
import type { Harness } from '../../e2e/harness.ts';
import { outcome, reportFromStore } from '../../e2e/run-report.ts';
import { useHarness } from './use-harness.ts';

const DAG = 'partitioned_iteration';

async function reference(dags: Harness['dags']) {
  const local = new LocalRunner({ dags: dags.dags, clock: new FakeClock(), captureConsole: false });
  const expected = await local.run({ dagId: DAG, runId: 'local__partitions' });
  const summary = (await local.store.getXCom(expected, 'summarise', -1, 'return_value'))?.value;
  local.close();
  expect(expected.state).toBe('success');
  return { outcome: outcome(expected, dags), summary };
}

describe('partitioned_iteration on the local cloud', () => {
  const h = useHarness();

  it('ends as LocalRunner.run ends it; each night an iteration of its own files', async () => {
    const { dags, store } = h();
    const expected = await reference(dags);
    const runId = 'e2e__partitions';
    const run = await h().run({ dagId: DAG, runId });
    expect(run.state).toBe('success');
    expect(outcome(await reportFromStore(store, dags, run), dags)).toStrictEqual(expected.outcome);
    expect((await store.getXCom(run, 'summarise', -1, 'return_value'))?.value).toStrictEqual(expected.summary);
    // One iteration lifecycle per night: prepare (its items function), the Map over its files, complete.
    const lifecycle = h().naming.lifecycle('iterate');
    const executions = h().sfn.executionsOf(lifecycle).filter((e) => e.input.includes(runId));
    expect(executions.map((e) => e.path.filter((state) => !state.includes('#')))).toStrictEqual(Array.from({ length: 4 }, () => ['Prepare', 'CheckPrepared', 'Items', 'Complete']));
    const night = (await store.getXCom(run, 'flag_files', 2, 'partition_items'))?.value as string[];
    expect(night).toHaveLength(12);
    expect(night[0]).toBe('2026-01-03/scan000.ms');
    expect(h().errors).toStrictEqual([]);
  });
});

/** Partitions and items per partition of the wide case (`AIRLESS_E2E_PARTITIONS=PxN` to try another size). */
const [PARTS, ITEMS] = (process.env['AIRLESS_E2E_PARTITIONS'] ?? '100x1000').split('x').map(Number) as [number, number];

/**
 * Runs of each (partition, item) by the instance's try (1 or 2), counted in the task's code (the harness
 * runs the handlers in this process). Deployed, an item's invocation can be delivered again (its attempt
 * count is its deliveries', not its code's runs), so the ledger checks that every item ran, and that an
 * instance's retry ran exactly the items its first try left failed.
 */
const ledger = [new Uint8Array(PARTS * ITEMS), new Uint8Array(PARTS * ITEMS)] as const;
/** Items whose code returned (succeeded) in the instance's try 1. */
const succeeded = new Uint8Array(PARTS * ITEMS);
const failsTry1 = (k: number) => k % 997 === 0;
const failsAttempt1 = (k: number) => k % 89 === 0;

const wide = dag({ dagId: 'partitions_wide', maxActiveTasks: 16, defaultArgs: { retries: 1, retryDelay: '30s' } }, ({ task }) => {
  const parts = task('parts', (): number[] => Array.from({ length: PARTS }, (_, i) => i));
  const items = task('item', (ctx: TaskContext, x: number) => {
    const k = ctx.mapIndex! * ITEMS + x;
    ledger[ctx.tryNumber - 1]![k]!++;
    if (failsTry1(k) && ctx.tryNumber === 1) throw new Error(`item ${x} of partition ${String(ctx.partition)} failed`);
    if (failsAttempt1(k) && ctx.item!.tryNumber === 1) throw new Error('flaky');
    if (ctx.tryNumber === 1) succeeded[k] = 1;
    return k;
  })
    .expand<number>(parts)
    .iterate(() => Array.from({ length: ITEMS }, (_, i) => i), { concurrency: 16, itemRetries: 1 });
  task('check', (_ctx, xs: number[][]) => xs.length === PARTS && xs.every((l, m) => l.length === ITEMS && l.every((v, i) => v === m * ITEMS + i)))(items);
});

describe(`${PARTS} partitions x ${ITEMS} items on the local cloud`, () => {
  const h = useHarness({ handlers: 'core', dags: [wide] });

  it('every item result in order; failing items retried alone (item retries in the Map, instance retries rerun only the failed)', async () => {
    const started = performance.now();
    const run = await h().run({ dagId: 'partitions_wide', runId: 'e2e__pwide' });
    const seconds = (performance.now() - started) / 1000;
    expect(run.state).toBe('success');
    expect((await h().store.getXCom(run, 'check', -1, 'return_value'))?.value).toBe(true);
    let retriedInPlace = 0;
    for (let k = 0; k < PARTS * ITEMS; k++) {
      const [first, second] = [ledger[0][k]!, ledger[1][k]!];
      const where = `item ${k % ITEMS} of partition ${Math.floor(k / ITEMS)}`;
      if (first < 1) throw new Error(`${where} did not run in try 1`);
      // Try 2 of an instance runs the items its try 1 left failed, and none that succeeded.
      if (failsTry1(k) && second < 1) throw new Error(`${where} failed try 1 but did not run in try 2`);
      if (succeeded[k] && second !== 0) throw new Error(`${where} succeeded in try 1 but ran ${second} times in try 2`);
      if (first > 1) retriedInPlace++;
    }
    // The flaky items were retried in place (itemRetries), inside try 1.
    expect(retriedInPlace).toBeGreaterThan(0);
    // One iterate execution per instance's try: an instance with an item failing its first try took two.
    const lifecycle = h().naming.lifecycle('iterate');
    const executions = h().sfn.executionsOf(lifecycle).filter((e) => e.input.includes('e2e__pwide'));
    const tis = await h().store.listTaskInstances(run);
    const items = tis.filter((t) => t.taskId === 'item');
    expect(items).toHaveLength(PARTS);
    expect(executions).toHaveLength(items.reduce((n, t) => n + t.tryNumber, 0));
    for (let m = 0; m < PARTS; m++) if (Array.from({ length: ITEMS }, (_, i) => m * ITEMS + i).some(failsTry1)) expect(items[m]!.tryNumber).toBe(2);
    console.log(`${PARTS} x ${ITEMS} items: ${seconds.toFixed(1)} s; ${executions.length} iterate executions; ${retriedInPlace} items retried in place in try 1`);
    expect(h().errors).toStrictEqual([]);
  }, 3_600_000);
});
