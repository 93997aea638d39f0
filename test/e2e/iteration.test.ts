// Dynamic task iteration in the deployed shape: a Map state over the items still to run, the Map's
// Retry for itemRetries (the handler counts each item's attempts in the store), the results in order.
// Twice: with the item list inline in the state (a Map), and with it in S3 (the task runner's threshold
// forced down to one byte), where a Distributed Map reads it with its ItemReader, runs each item as a
// child execution and writes the children's results with its ResultWriter.
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ITEM_LISTS_FOLDER } from '../../lib/compiler/contract.ts';
import { dag, FakeClock, LocalRunner } from '../../lib/index.ts';
import type { Harness } from '../../e2e/harness.ts';
import { outcome, reportFromStore } from '../../e2e/run-report.ts';
import { useHarness } from './use-harness.ts';

const DAG = 'iteration_vs_mapping';
const ITERATED = 'estimate_noise_iterated';

/** How LocalRunner.run ends the DAG (the reference), and the `compare` task's result. */
async function reference(dags: Harness['dags']) {
  const local = new LocalRunner({ dags: dags.dags, clock: new FakeClock(), captureConsole: false });
  const expected = await local.run({ dagId: DAG, runId: 'local__iter' });
  const compare = (await local.store.getXCom(expected, 'compare', -1, 'return_value'))?.value;
  const iterated = (await local.store.getXCom(expected, ITERATED, -1, 'return_value'))?.value;
  local.close();
  expect(expected.state).toBe('success');
  return { outcome: outcome(expected, dags), compare, iterated };
}

describe('iteration_vs_mapping on the local cloud', () => {
  const h = useHarness();

  it('ends as LocalRunner.run ends it, with the same item results', async () => {
    const { dags, store } = h();
    const expected = await reference(dags);

    const runId = 'e2e__iter';
    const run = await h().run({ dagId: DAG, runId });
    const got = await reportFromStore(store, dags, run);
    expect(run.state).toBe('success');
    expect(outcome(got, dags)).toStrictEqual(expected.outcome);
    expect((await store.getXCom(run, 'compare', -1, 'return_value'))?.value).toStrictEqual(expected.compare);
    // The items ran in the inline Map: no child execution.
    const lifecycle = h().naming.lifecycle('iterate');
    expect(h().sfn.executionsOf(`${lifecycle}/ItemsFromS3`)).toStrictEqual([]);
    expect(h().errors).toStrictEqual([]);
  });
});

describe('iteration_vs_mapping on the local cloud, its item list in S3 (Distributed Map, ItemReader, ResultWriter)', () => {
  const h = useHarness({ itemsInlineMaxBytes: 1 });

  it('ends as LocalRunner.run ends it, with the same item results, each item a child execution', async () => {
    const { dags, store, sfn, s3 } = h();
    const expected = await reference(dags);

    const runId = 'e2e__iter_s3';
    const run = await h().run({ dagId: DAG, runId });
    const got = await reportFromStore(store, dags, run);
    expect(run.state).toBe('success');
    expect(outcome(got, dags)).toStrictEqual(expected.outcome);
    expect((await store.getXCom(run, 'compare', -1, 'return_value'))?.value).toStrictEqual(expected.compare);
    expect((await store.getXCom(run, ITERATED, -1, 'return_value'))?.value).toStrictEqual(expected.iterated);

    // The try read its items from S3: Prepare → CheckPrepared → ItemsFromS3 → Complete (which reports it).
    const lifecycle = h().naming.lifecycle('iterate');
    const [execution, ...others] = sfn.executionsOf(lifecycle);
    expect(others).toStrictEqual([]);
    expect(execution!.path).toStrictEqual(['Prepare', 'CheckPrepared', 'ItemsFromS3', 'Complete']);
    const prepared = h().invocations.filter((i) => (i.payload as { mode?: string }).mode === 'iterate_prepare');
    expect(prepared).toHaveLength(1);

    // One child execution per item (12 pointings), each running the item (the flaky one twice).
    const children = sfn.executionsOf(`${lifecycle}/ItemsFromS3`);
    expect(children).toHaveLength(12);
    expect(children.every((c) => c.status === 'SUCCEEDED')).toBe(true);
    const indexes = children.map((c) => (JSON.parse(c.input) as { index: number }).index).sort((a, b) => a - b);
    expect(indexes).toStrictEqual(Array.from({ length: 12 }, (_, i) => i));
    // Each child's input: the item, and the task's item retries (data: the machine is shared).
    const spec = dags.getDag(DAG)!.task(ITERATED);
    const itemRetries = spec.kind === 'task' ? (spec.iterate?.itemRetries ?? 0) : 0;
    expect(children.map((c) => JSON.parse(c.input) as unknown)).toContainEqual({
      key: { dagId: DAG, runId, taskId: ITERATED, mapIndex: -1 },
      tryNumber: 1,
      index: 3,
      itemRetries,
      itemRetryDelays: Array.from({ length: itemRetries }, (_, i) => Math.min(2 ** i, 60)),
      attempt: 0,
    });
    // The flaky item failed once and was retried after its delay, in its child execution.
    const flaky = children.find((c) => (JSON.parse(c.input) as { index: number }).index === 3)!;
    expect(flaky.path).toStrictEqual(['RunS3Item', 'CanRetryS3Item', 'NextS3ItemAttempt', 'WaitS3ItemRetry', 'RunS3Item']);
    expect(h().invocations.filter((i) => (i.payload as { mode?: string; index?: number }).mode === 'item' && (i.payload as { index?: number }).index === 3)).toHaveLength(2);

    // What the ItemReader read, and what the ResultWriter wrote under the results prefix: the manifest
    // (whose key was the Map's result, at `$.try.results` until Complete replaced `$.try`) and the results.
    const read = async (Bucket: string, Key: string) => JSON.parse(await (await s3.client.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString()) as unknown;
    const tryDir = `${s3.prefix.replace(/\/+$/, '')}/${ITEM_LISTS_FOLDER}/${DAG}/${runId}/${ITERATED}/-1/try-1`;
    expect(await read(s3.bucket, `${tryDir}/items.json`)).toStrictEqual(Array.from({ length: 12 }, (_, i) => i));
    const written = (await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${tryDir}/results/` }))).Contents ?? [];
    const manifestKey = written.map((o) => o.Key!).find((k) => k.endsWith('/manifest.json'))!;
    expect(manifestKey).toMatch(new RegExp(`^${tryDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/results/[0-9a-f-]{36}/manifest\\.json$`));
    const manifest = (await read(s3.bucket, manifestKey)) as { DestinationBucket: string; MapRunArn: string; ResultFiles: Record<string, { Key: string; Size: number }[]> };
    expect(manifest.DestinationBucket).toBe(s3.bucket);
    expect(manifest.ResultFiles['FAILED']).toStrictEqual([]);
    expect(manifest.ResultFiles['SUCCEEDED']).toHaveLength(1);
    const succeeded = (await read(s3.bucket, manifest.ResultFiles['SUCCEEDED']![0]!.Key)) as { Status: string; Output: string }[];
    expect(succeeded.map((r) => r.Status)).toStrictEqual(Array.from({ length: 12 }, () => 'SUCCEEDED'));
    expect(succeeded.map((r) => Number(r.Output)).sort((a, b) => a - b)).toStrictEqual(indexes);
    expect(h().errors).toStrictEqual([]);
  });
});

/** Items of the wide iteration (`AIRLESS_E2E_WIDE_ITEMS` to try another count). */
const WIDE_ITEMS = Number(process.env['AIRLESS_E2E_WIDE_ITEMS'] ?? 100_000);

/**
 * An iteration of WIDE_ITEMS trivial items (their executionTimeout short enough for Express children),
 * and a task that reads all their results. The harness measures a Task's TimeoutSeconds in real time, and
 * an item's real time is about `concurrency` times the harness's time per item (a few ms): 200 at once
 * keep it far from the executionTimeout on a busy machine.
 */
const wide = dag({ dagId: 'iterate_wide', params: { items: { type: 'integer', minimum: 1, default: WIDE_ITEMS } } }, ({ task }) => {
  const list = task('list', ({ params }): number[] => Array.from({ length: params.items }, (_, i) => i));
  const doubled = task('double', (_ctx, x: number) => 2 * x, { executionTimeout: '50s' }).iterate(list, { concurrency: 200, itemRetries: 1 });
  task('check', (_ctx, ys: number[]) => ({ n: ys.length, sum: ys.reduce((a, b) => a + b, 0) }))(doubled);
});

describe(`an iteration of ${WIDE_ITEMS} items on the local cloud: a Distributed Map of child executions`, () => {
  // The DAG is the test's own, so the harness calls the lib/aws cores of the functions (functions/ bundle
  // the airless-dags module's DAGs).
  const h = useHarness({ handlers: 'core', dags: [wide] });

  it('succeeds with every item result stored, in order; each item reads only its instance', async () => {
    const started = performance.now();
    const run = await h().run({ dagId: 'iterate_wide', runId: 'e2e__wide' });
    const seconds = (performance.now() - started) / 1000;
    expect(run.state).toBe('success');
    const values = (await h().store.getXCom(run, 'double', -1, 'return_value'))?.value as number[];
    expect(values).toHaveLength(WIDE_ITEMS);
    expect(values.every((v, i) => v === 2 * i)).toBe(true);
    expect((await h().store.getXCom(run, 'check', -1, 'return_value'))?.value).toStrictEqual({ n: WIDE_ITEMS, sum: WIDE_ITEMS * (WIDE_ITEMS - 1) });

    // Over the inline history budget: the list went to S3, each item a child execution of the Distributed Map.
    const lifecycle = h().naming.lifecycle('iterate');
    const executions = h().sfn.executionsOf(lifecycle).filter((e) => e.input.includes('e2e__wide'));
    expect(executions.map((e) => e.path)).toStrictEqual([['Prepare', 'CheckPrepared', 'ItemsFromS3', 'Complete']]);
    const children = h().sfn.executionsOf(`${lifecycle}/ItemsFromS3`).filter((c) => c.input.includes('e2e__wide'));
    expect(children).toHaveLength(WIDE_ITEMS);
    const unlike = children.filter((c) => c.status !== 'SUCCEEDED' || c.output !== String((JSON.parse(c.input) as { index: number }).index));
    expect(unlike.slice(0, 5).map((c) => ({ type: c.type, status: c.status, input: c.input, output: c.output, error: c.error, cause: c.cause }))).toStrictEqual([]);

    // Each item read its instance, not the run or the item list again: one GetItem per item, a few more for the try.
    const key = { dagId: 'iterate_wide', runId: 'e2e__wide', taskId: 'double', mapIndex: -1 };
    const counts = h().meter.sum((k) => k !== null && k.taskId === key.taskId && k.runId === key.runId);
    expect(counts.ddbByOperation['GetItem']).toBeLessThan(WIDE_ITEMS + 50);
    // Figures (a benchmark's, not asserted): wall time, requests per item, the results' Query pages.
    const perItem = (n: number | undefined) => ((n ?? 0) / WIDE_ITEMS).toFixed(3);
    console.log(
      `${WIDE_ITEMS} items: ${seconds.toFixed(1)} s (${((seconds * 1e6) / WIDE_ITEMS).toFixed(0)} µs per item); per item: ` +
        `GetItem ${perItem(counts.ddbByOperation['GetItem'])}, UpdateItem ${perItem(counts.ddbByOperation['UpdateItem'])}, PutItem ${perItem(counts.ddbByOperation['PutItem'])}; ` +
        `Query ${counts.ddbByOperation['Query'] ?? 0} in all; rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
    );
    expect(h().errors).toStrictEqual([]);
  }, 3_600_000);
});
