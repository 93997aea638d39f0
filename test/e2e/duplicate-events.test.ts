// At-least-once delivery: every event that ends a try delivered twice (each invocation that reports a try
// is made twice: the task runner's `run`, `batch_complete` and `iterate_complete`, which report in the
// same invocation, a sensor's `poke`, and the scheduler's `try_finished` and `array_finished`; Step
// Functions gets the first reply, and the second must be the same) changes nothing: the whole store state
// of the run, and of the runs it triggered, equals a run where each event came once.
import { isDeepStrictEqual } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { childRuns, snapshotRun } from '../../e2e/run-report.ts';
import type { DagRunRecord, RunRef, TiKey } from '../../lib/store/records.ts';
import { useHarness } from './use-harness.ts';

// e2e_replay's Batch job fails its first job in each run (its name without the try is the key).
const h = useHarness({ batch: { failOnce: (job) => job.jobName.replace(/-try\d+$/, '') } });

/** Whether an invocation reports a try (the events delivered twice here). */
function reportsATry(call: { payload: unknown }): boolean {
  const p = call.payload as { type?: string; mode?: string } | null;
  return p?.type === 'try_finished' || p?.type === 'array_finished' || ['run', 'poke', 'batch_complete', 'iterate_complete'].includes(p?.mode ?? '');
}

/** Deliver every event that ends a try twice while `fn` runs; returns the deliveries and the replies that differed. */
async function deliveringTwice<T>(fn: () => Promise<T>): Promise<{ result: T; doubled: number; mismatches: unknown[] }> {
  let doubled = 0;
  const mismatches: unknown[] = [];
  h().lambda.interceptor = async (call, invoke) => {
    if (!reportsATry(call)) return invoke();
    const first = await invoke();
    const second = await invoke();
    doubled++;
    if (!isDeepStrictEqual(first, second)) mismatches.push({ payload: call.payload, first, second });
    return first;
  };
  try {
    return { result: await fn(), doubled, mismatches };
  } finally {
    h().lambda.interceptor = null;
  }
}

describe('every task-finished event delivered twice', () => {
  for (const [dagId, state] of [
    ['e2e_replay', 'success'],
    ['example_workflow', 'success'],
  ] as const) {
    it(`changes nothing: ${dagId}`, async () => {
      const once = await h().run({ dagId, runId: `once__${dagId}` });
      const twice = await deliveringTwice(() => h().run({ dagId, runId: `twice__${dagId}` }));

      expect([once.state, twice.result.state]).toStrictEqual([state, state]);
      expect(twice.mismatches).toStrictEqual([]);
      // The reporting invocations of a run and of the runs it triggered (recursively).
      const reports = async (root: RunRef) => {
        const tree = new Set<string>();
        const visit = async (r: DagRunRecord) => {
          tree.add(`${r.dagId}\u0000${r.runId}`);
          for (const c of await childRuns(h().store, h().dags, r)) await visit(c);
        };
        await visit((await h().store.getRun(root))!);
        return h().invocations.filter((c) => {
          const p = c.payload as { key?: TiKey; array?: TiKey } | null;
          const k = p?.key ?? p?.array;
          return reportsATry(c) && k !== undefined && tree.has(`${k.dagId}\u0000${k.runId}`);
        }).length;
      };
      // Both runs made as many reporting invocations; each of the second run's (its triggered runs' too)
      // was carried out twice.
      expect(twice.doubled).toBeGreaterThan(0);
      expect(await reports(twice.result)).toBe(twice.doubled);
      expect(await reports(once)).toBe(twice.doubled);

      const a = await snapshotRun(h().store, h().dags, once);
      const b = await snapshotRun(h().store, h().dags, twice.result);
      expect(b).toStrictEqual(a);
      expect(h().errors).toStrictEqual([]);
    });
  }

  it('compared runs that exercised retries, mapping, a branch, Batch, a triggered run and a value in S3', async () => {
    const twice = { dagId: 'e2e_replay', runId: 'twice__e2e_replay' };
    const tis = await h().store.listTaskInstances(twice);
    expect(tis.map((t) => [t.taskId, t.mapIndex, t.state, t.tryNumber])).toStrictEqual([
      ['big_value', -1, 'success', 1],
      ['even_path', -1, 'skipped', 0],
      ['measure', -1, 'success', 1],
      ['odd_path', -1, 'success', 1],
      ['pick', -1, 'success', 1],
      ['reduce', -1, 'success', 2],
      ['run_child', -1, 'success', 1],
      ['square', 0, 'success', 1],
      ['square', 1, 'success', 1],
      ['square', 2, 'success', 1],
      ['square', 3, 'success', 1],
      ['start', -1, 'success', 2],
      ['summary', -1, 'success', 1],
    ]);
    expect((await h().store.getXCom(twice, 'summary', -1, 'return_value'))?.value).toStrictEqual({
      squares: [1, 4, 9, 16],
      size: 400 * 1024,
      jobStatus: 'SUCCEEDED',
      stages: ['start', 'child'],
    });
    // big_value's 400 KiB result is an S3 object (one per run), not a DynamoDB item.
    const { client, bucket, prefix } = h().s3;
    const objects = (await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? [];
    expect(objects.map((o) => [o.Key!.includes('once__e2e_replay') ? 'once' : o.Key!.includes('twice__e2e_replay') ? 'twice' : o.Key, o.Size! > 400 * 1024]).sort()).toStrictEqual([
      ['once', true],
      ['twice', true],
    ]);
  });
});
