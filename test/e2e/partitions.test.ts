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

/** Tries of each (partition, item), counted in the task's code (the harness runs the handlers in this process). */
const ledger = new Uint8Array(PARTS * ITEMS);
const failsTry1 = (k: number) => k % 997 === 0;
const failsAttempt1 = (k: number) => k % 89 === 0;

// At most 16 x 16 items at once: the local Step Functions engine gives an item's Task 60 s of real time
// (no TimeoutSeconds), which thousands of items in flight at once on a busy machine can exceed.
const wide = dag({ dagId: 'partitions_wide', maxActiveTasks: 16, defaultArgs: { retries: 1, retryDelay: '30s' } }, ({ task }) => {
  const parts = task('parts', (): number[] => Array.from({ length: PARTS }, (_, i) => i));
  const items = task('item', (ctx: TaskContext, x: number) => {
    const k = ctx.mapIndex! * ITEMS + x;
    ledger[k]!++;
    if (failsTry1(k) && ctx.tryNumber === 1) throw new Error(`item ${x} of partition ${String(ctx.partition)} failed`);
    if (failsAttempt1(k) && ctx.item!.tryNumber === 1) throw new Error('flaky');
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
    for (let k = 0; k < PARTS * ITEMS; k++) {
      // Try 1: the Map's two attempts; try 2: one, plus one when the item's first attempt is flaky.
      const expected = failsTry1(k) ? 3 + (failsAttempt1(k) ? 1 : 0) : 1 + (failsAttempt1(k) ? 1 : 0);
      if (ledger[k] !== expected) throw new Error(`item ${k % ITEMS} of partition ${Math.floor(k / ITEMS)} ran ${ledger[k]} times, expected ${expected}`);
    }
    // An instance with an item failing its first try took two iterate executions; the others one.
    const lifecycle = h().naming.lifecycle('iterate');
    const executions = h().sfn.executionsOf(lifecycle).filter((e) => e.input.includes('e2e__pwide'));
    let retried = 0;
    for (let m = 0; m < PARTS; m++) if (Array.from({ length: ITEMS }, (_, i) => m * ITEMS + i).some(failsTry1)) retried++;
    expect(executions).toHaveLength(PARTS + retried);
    console.log(`${PARTS} x ${ITEMS} items: ${seconds.toFixed(1)} s; ${executions.length} iterate executions`);
    expect(h().errors).toStrictEqual([]);
  }, 3_600_000);
});
