// The deployed fan-out of partitioned iteration, at the host and the dispatcher: the dispatches of a
// partitioned task's instances from one step start one `partitions` execution (InvocationHost.flush
// groups them per run and task; SfnDispatcher.startPartitions starts it), a single instance its own
// `iterate` execution. The SFN client is replaced at the SDK boundary by one that records its commands.
import { describe, expect, it } from 'vitest';
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { dag, task } from '../lib/index.ts';
import { InvocationHost, isPartitionedTask, type Dispatcher } from '../lib/aws/invocation-host.ts';
import { lifecycleExecutionName, partitionsExecutionName, SfnDispatcher, StateMachineNaming } from '../lib/aws/sfn-dispatcher.ts';
import { lifecycleSettings, PARTITIONS_PER_EXECUTION, type PartitionsInput } from '../lib/compiler/index.ts';
import type { Effect } from '../lib/scheduler/effects.ts';
import type { TaskInstanceRecord } from '../lib/store/records.ts';

const step = (effects: Effect[]) => Promise.resolve({ value: undefined, effects });

const d = dag({ dagId: 'nights' }, () => {
  const nights = task('list_nights', () => [{ date: 'a' }, { date: 'b' }, { date: 'c' }]);
  const flagged = task('flag', (_ctx, file: string) => file.length)
    .expand<{ date: string }>(nights)
    .iterate((night) => [`${night.date}/1.ms`, `${night.date}/2.ms`], { concurrency: 4, itemRetries: 1 });
  task('mapped', (_ctx, n: number) => n).expand([1, 2, 3]);
  task('iterated', (_ctx, n: number) => n).iterate([1, 2, 3]);
  task('summarise', (_ctx, x: number[][]) => x.length)(flagged);
});

function ti(taskId: string, mapIndex: number, runId = 'r1', tryNumber = 1): TaskInstanceRecord {
  return {
    dagId: 'nights', runId, taskId, mapIndex, state: 'queued', tryNumber, maxTries: 2, queuedAt: '2026-01-01T00:00:00.000Z',
    startDate: null, endDate: null, nextAt: null, firstPokeAt: null, pokeCount: 0, durationMs: null, error: null, externalId: null, resume: false,
  };
}

const name = (t: TaskInstanceRecord) => `${t.runId}/${t.taskId}[${t.mapIndex}]`;

function recording(withPartitions = true): Dispatcher & { started: string[] } {
  const started: string[] = [];
  return {
    started,
    startLifecycle: async (t) => void started.push(`lifecycle ${name(t)}`),
    startTimer: async () => undefined,
    startArrayWaves: async () => undefined,
    ...(withPartitions ? { startPartitions: async (tis: readonly TaskInstanceRecord[]) => void started.push(`partitions ${tis.map(name).join(' ')}`) } : {}),
  };
}

describe('InvocationHost: the dispatches of a partitioned task start together', () => {
  it('a partitioned task is one with both mapping and iterate; plain mapping and plain iteration are not', () => {
    expect(['list_nights', 'flag', 'mapped', 'iterated', 'summarise'].map((t) => isPartitionedTask(d.task(t)))).toStrictEqual([false, true, false, false, false]);
  });

  it('groups per run and task: one startPartitions each; a lone instance, mapped and iterated tasks start their own lifecycle', async () => {
    const rec = recording();
    const host = new InvocationHost(rec, null);
    await host.run(step([
      { type: 'dispatch', ti: ti('flag', 0), dag: d },
      { type: 'dispatch', ti: ti('mapped', 0), dag: d },
      { type: 'dispatch', ti: ti('flag', 1), dag: d },
      { type: 'dispatch', ti: ti('flag', 0, 'r2'), dag: d },
      { type: 'dispatch', ti: ti('iterated', -1), dag: d },
    ]));
    await host.run(step([{ type: 'dispatch', ti: ti('flag', 2), dag: d }]));
    expect(await host.flush()).toBeNull();
    expect(rec.started.sort()).toStrictEqual(['lifecycle r1/iterated[-1]', 'lifecycle r1/mapped[0]', 'lifecycle r2/flag[0]', 'partitions r1/flag[0] r1/flag[1] r1/flag[2]']);
  });

  it("the calling partition's own next try is its next action, not part of the group; a dispatcher without startPartitions starts each instance", async () => {
    const rec = recording();
    const host = new InvocationHost(rec, { instance: { dagId: 'nights', runId: 'r1', taskId: 'flag', mapIndex: 1 } });
    await host.run(step([
      { type: 'dispatch', ti: ti('flag', 0, 'r1', 2), dag: d },
      { type: 'dispatch', ti: ti('flag', 1, 'r1', 2), dag: d },
      { type: 'dispatch', ti: ti('flag', 2, 'r1', 2), dag: d },
    ]));
    expect(await host.flush()).toStrictEqual({ action: 'run', tryNumber: 2 });
    expect(rec.started).toStrictEqual(['partitions r1/flag[0] r1/flag[2]']);

    const plain = recording(false);
    const h2 = new InvocationHost(plain, null);
    await h2.run(step([0, 1, 2].map((m): Effect => ({ type: 'dispatch', ti: ti('flag', m), dag: d }))));
    await h2.flush();
    expect(plain.started).toStrictEqual(['lifecycle r1/flag[0]', 'lifecycle r1/flag[1]', 'lifecycle r1/flag[2]']);
  });
});

/** An SFN client that records StartExecution and answers `ExecutionAlreadyExists` for a name it has seen. */
function sfn() {
  const starts: { arn: string; name: string; input: unknown }[] = [];
  const seen = new Set<string>();
  const client = {
    send: async (cmd: unknown) => {
      if (!(cmd instanceof StartExecutionCommand)) throw new Error(`unexpected ${String(cmd)}`);
      const { stateMachineArn, name: n, input } = cmd.input;
      if (seen.has(`${stateMachineArn}:${n}`)) throw Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' });
      seen.add(`${stateMachineArn}:${n}`);
      starts.push({ arn: String(stateMachineArn), name: String(n), input: JSON.parse(String(input)) });
      return {};
    },
  };
  const dispatcher = new SfnDispatcher({
    client: client as unknown as SFNClient,
    dags: { getDag: () => d },
    naming: new StateMachineNaming('stack-12345678'),
    stateMachineArnPrefix: 'arn:aws:states:eu-west-1:123456789012:stateMachine:',
  });
  return { dispatcher, starts };
}

const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stack-12345678';

describe('SfnDispatcher.startPartitions', () => {
  it("starts ONE partitions execution with each instance's iterate execution name, map index and try; a replay starts nothing more", async () => {
    const { dispatcher, starts } = sfn();
    const tis = [ti('flag', 2), ti('flag', 0), ti('flag', 1, 'r1', 3)];
    await dispatcher.startPartitions(tis, d);
    const expected: PartitionsInput = {
      dagId: 'nights',
      runId: 'r1',
      taskId: 'flag',
      settings: lifecycleSettings(d.task('flag')),
      instances: [ti('flag', 0), ti('flag', 1, 'r1', 3), ti('flag', 2)].map((t) => ({ name: lifecycleExecutionName(t), mapIndex: t.mapIndex, tryNumber: t.tryNumber })),
    };
    expect(starts).toStrictEqual([{ arn: `${ARN}-partitions`, name: partitionsExecutionName(tis), input: expected }]);
    expect(expected.settings).toStrictEqual({ concurrency: 4, itemRetries: 1, itemRetryDelays: [1], maxConcurrency: 0 });
    expect(partitionsExecutionName(tis)).toMatch(/^flag-p0\+2-t1-[0-9a-f]{16}$/);
    // The same instances in any order: the same name. Another queued version of one: another name.
    expect(partitionsExecutionName([...tis].reverse())).toBe(partitionsExecutionName(tis));
    expect(partitionsExecutionName([ti('flag', 2), ti('flag', 0), ti('flag', 1, 'r1', 4)])).not.toBe(partitionsExecutionName(tis));
    await dispatcher.startPartitions([...tis].reverse(), d);
    expect(starts.length).toBe(1);
  });

  it('a single instance starts its iterate execution directly, as startLifecycle does', async () => {
    const { dispatcher, starts } = sfn();
    await dispatcher.startPartitions([ti('flag', 4)], d);
    expect(starts).toStrictEqual([
      { arn: `${ARN}-iterate`, name: lifecycleExecutionName(ti('flag', 4)), input: { key: { dagId: 'nights', runId: 'r1', taskId: 'flag', mapIndex: 4 }, dagId: 'nights', tryNumber: 1, settings: lifecycleSettings(d.task('flag')) } },
    ]);
  });

  it(`more than ${PARTITIONS_PER_EXECUTION} instances: one execution per ${PARTITIONS_PER_EXECUTION}, in map-index order (a last one alone starts its iterate execution)`, async () => {
    const { dispatcher, starts } = sfn();
    await dispatcher.startPartitions(Array.from({ length: 2 * PARTITIONS_PER_EXECUTION + 1 }, (_, m) => ti('flag', 2 * PARTITIONS_PER_EXECUTION - m)), d);
    expect(starts.map((s) => s.arn)).toStrictEqual([`${ARN}-partitions`, `${ARN}-partitions`, `${ARN}-iterate`]);
    const indexes = starts.slice(0, 2).map((s) => (s.input as PartitionsInput).instances.map((i) => i.mapIndex));
    expect(indexes[0]).toStrictEqual(Array.from({ length: PARTITIONS_PER_EXECUTION }, (_, m) => m));
    expect(indexes[1]).toStrictEqual(Array.from({ length: PARTITIONS_PER_EXECUTION }, (_, m) => PARTITIONS_PER_EXECUTION + m));
    expect(starts[2]!.name).toBe(lifecycleExecutionName(ti('flag', 2 * PARTITIONS_PER_EXECUTION)));
  });

  it('refuses instances of two tasks or runs, and a task that is not a partitioned iteration, naming them', async () => {
    const { dispatcher, starts } = sfn();
    await expect(dispatcher.startPartitions([ti('flag', 0), ti('flag', 1, 'r2')], d)).rejects.toThrowError(
      /^startPartitions: instances of one task of one run only \(got nights\/r1\/flag and nights\/r2\/flag\)$/,
    );
    await expect(dispatcher.startPartitions([ti('mapped', 0), ti('mapped', 1)], d)).rejects.toThrowError(/^startPartitions: task nights\.mapped is not a partitioned iteration \(its lifecycle is try\)$/);
    expect(starts).toStrictEqual([]);
  });
});
