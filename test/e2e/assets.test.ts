// Assets in the deployed shape (the local cloud): the producer DAG's outlets start the consumer DAG from the
// task runner's own step (Airflow's `a & (b | c)`); and the deployed watchers, with events delivered as AWS
// delivers them to the real asset-events function: an object put to S3 (s3rver, through the real client)
// sends its Object Created event through each synthesized rule whose EventPattern matches; an event put on
// an EventBridge bus likewise; SQS messages as an event source mapping's batch. The same delivery twice
// starts one run; a bad SQS message fails alone; a delivery that failed after recording its event
// (a write that applied, then failed), delivered again as Lambda retries it, starts its run exactly once.
import { describe, expect, it } from 'vitest';
import { E2E_ASSET_BUCKET, E2E_ASSET_BUS, E2E_ASSET_QUEUE } from '../../e2e/dags/e2e_assets.ts';
import { LocalAssetWatchers } from '../../e2e/asset-watchers.ts';
import type { EventBridgeEnvelope } from '../../lib/aws/asset-events.ts';
import { useHarness } from './use-harness.ts';

/** Fails the first DynamoDB write matching it, after the write applied (a response lost). */
let fault: ((input: string) => boolean) | null = null;
const injected: string[] = [];

const h = useHarness({
  instrumentDynamoDb(client) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const text = JSON.stringify(args.input);
        if (fault && /Put|Update|Transact/.test(context.commandName ?? '') && fault(text)) {
          fault = null;
          injected.push(context.commandName ?? '?');
          throw Object.assign(new Error('injected fault: the write applied, its response was lost'), { name: 'InjectedFault' });
        }
        return out;
      },
      { step: 'initialize', name: 'assetFaults' },
    );
  },
});

let watchers: LocalAssetWatchers;
const w = async () => (watchers ??= await LocalAssetWatchers.start(h()));

const runsOf = async (dagId: string) => (await h().store.listRuns({ dagId })).sort((a, b) => (a.runId < b.runId ? -1 : 1));
const readResult = async (dagId: string, runId: string) => (await h().store.getXCom({ dagId, runId }, 'read', -1, 'return_value'))?.value;

describe('assets deployed', () => {
  it("a producer's outlets start the consumer on a & (b | c) in the task runner's own invocation; c then waits for a", async () => {
    const producer = await h().run({ dagId: 'e2e_asset_producer', runId: 'produce_1' });
    expect(producer.state).toBe('success');
    await h().settle();
    let runs = await runsOf('e2e_asset_consumer');
    expect(runs.map((r) => [r.runType, r.state])).toStrictEqual([['asset_triggered', 'success']]);
    expect(await readResult('e2e_asset_consumer', runs[0]!.runId)).toStrictEqual({ 'e2e://assets/a': [{ rows: 3 }], 'e2e://assets/b': [{}] });
    // Nothing but the producer's own task-runner steps started it: no trigger or scheduler invocation names the consumer.
    const named = h().invocations.filter((c) => c.functionName !== 'airless-e2e-task-runner' && JSON.stringify(c.payload).includes('"e2e_asset_consumer"'));
    expect(named.filter((c) => !JSON.stringify(c.payload).includes('"runId":"asset_triggered__'))).toStrictEqual([]);
    // c alone: b | c holds, a has had no event since the last run: no run.
    expect((await h().run({ dagId: 'e2e_asset_c_producer', runId: 'produce_c' })).state).toBe('success');
    await h().settle();
    expect(await runsOf('e2e_asset_consumer')).toHaveLength(1);
    expect((await h().run({ dagId: 'e2e_asset_producer', runId: 'produce_2' })).state).toBe('success');
    await h().settle();
    runs = await runsOf('e2e_asset_consumer');
    expect(runs.map((r) => r.state)).toStrictEqual(['success', 'success']);
    // The second run starts as soon as make_a's event completes a & c (Airflow's queue: c was waiting); b's event waits for the next a.
    const second = runs.find((r) => (r.triggeringAssetEvents ?? []).some((e) => e.uri === 'e2e://assets/c'))!;
    expect(await readResult('e2e_asset_consumer', second.runId)).toStrictEqual({ 'e2e://assets/a': [{ rows: 3 }], 'e2e://assets/c': [{}] });
    expect((await h().store.listAssetQueue('e2e_asset_consumer')).map((q) => q.uri)).toStrictEqual(['e2e://assets/b']);
    expect(h().errors).toStrictEqual([]);
  });

  it("the example DAGs: asset_producer's run starts asset_consumer on calibrated & (rfiFlags | skyModel)", async () => {
    expect((await h().run({ dagId: 'asset_producer', runId: 'example_1' })).state).toBe('success');
    await h().settle();
    const runs = await runsOf('asset_consumer');
    expect(runs.map((r) => [r.runType, r.state])).toStrictEqual([['asset_triggered', 'success']]);
    const plan = (await h().store.getXCom(runs[0]!, 'plan_imaging', -1, 'return_value'))?.value as { scans: number; inputs: string[] };
    expect(plan.scans).toBe(12);
    expect(plan.inputs).toHaveLength(2);
    expect(plan.inputs).toContain('s3://airless-example/visibilities/calibrated.ms');
    expect(h().errors).toStrictEqual([]);
  });

  it('synthesizes one rule per S3 and EventBridge watcher and one SQS mapping, from the deployed DAGs', async () => {
    const { rules, queues } = await w();
    expect(rules.map((r) => [r.eventBusName, r.eventPattern])).toStrictEqual(
      expect.arrayContaining([
        ['default', { source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: [E2E_ASSET_BUCKET] }, object: { key: [{ prefix: 'incoming/' }] } } }],
        [E2E_ASSET_BUS, { source: ['e2e.telescope'], 'detail-type': ['Scan Finished'], detail: { band: [{ prefix: 'L' }] } }],
      ]),
    );
    expect(queues).toStrictEqual(expect.arrayContaining([{ queueArn: E2E_ASSET_QUEUE, batchSize: 10, reportBatchItemFailures: true }]));
  });

  it('an object created under the watched prefix starts the consumer with the object in its event; one outside starts nothing', async () => {
    const { event, deliveries } = await (await w()).putObject(E2E_ASSET_BUCKET, 'incoming/scan-1.ms', 'visibilities');
    expect(deliveries.map((d) => d.error)).toStrictEqual([undefined]);
    await h().settle();
    const runs = await runsOf('e2e_s3_consumer');
    expect(runs.map((r) => [r.runType, r.state])).toStrictEqual([['asset_triggered', 'success']]);
    const detail = event.detail as { object: { etag: string; sequencer: string } };
    expect(await readResult('e2e_s3_consumer', runs[0]!.runId)).toStrictEqual({
      [`s3://${E2E_ASSET_BUCKET}/incoming/`]: [{ bucket: E2E_ASSET_BUCKET, key: 'incoming/scan-1.ms', size: 12, etag: detail.object.etag, sequencer: detail.object.sequencer }],
    });
    const outside = await (await w()).putObject(E2E_ASSET_BUCKET, 'outgoing/scan-1.ms', 'x');
    expect(outside.deliveries).toStrictEqual([]);
    await h().settle();
    expect(await runsOf('e2e_s3_consumer')).toHaveLength(1);
    expect(h().errors).toStrictEqual([]);
  });

  it('the same S3 event delivered twice records one event and starts one run', async () => {
    const before = (await runsOf('e2e_s3_consumer')).length;
    const { event } = await (await w()).putObject(E2E_ASSET_BUCKET, 'incoming/scan-2.ms', 'more');
    await h().settle();
    const again = await (await w()).putEvent(event);
    await h().settle();
    expect(again.map((d) => (d.reply as { recorded: { duplicate: boolean }[] }).recorded.map((r) => r.duplicate))).toStrictEqual([[true]]);
    expect(await runsOf('e2e_s3_consumer')).toHaveLength(before + 1);
    const events = await h().store.listAssetEvents({ uri: `s3://${E2E_ASSET_BUCKET}/incoming/`, limit: 100 });
    expect(events.events.filter((e) => (e.extra as { key?: string }).key === 'incoming/scan-2.ms')).toHaveLength(1);
  });

  it('an SQS batch: each good message is an event, a bad one fails alone, a message delivered again starts nothing', async () => {
    const failed = await (await w()).sendMessages(E2E_ASSET_QUEUE, [
      { messageId: 'obs-1', body: JSON.stringify({ scan: 7 }) },
      { messageId: 'bad-1', body: 'not json' },
    ]);
    expect(failed).toStrictEqual(['bad-1']);
    await h().settle();
    let runs = await runsOf('e2e_sqs_consumer');
    expect(runs.map((r) => r.state)).toStrictEqual(['success']);
    expect(await readResult('e2e_sqs_consumer', runs[0]!.runId)).toStrictEqual({ 'sqs://e2e-observations': [{ scan: 7 }] });
    expect(await (await w()).sendMessages(E2E_ASSET_QUEUE, [{ messageId: 'obs-1', body: JSON.stringify({ scan: 7 }) }])).toStrictEqual([]);
    await h().settle();
    runs = await runsOf('e2e_sqs_consumer');
    expect(runs).toHaveLength(1);
  });

  it("an event on the watcher's bus matching its pattern starts the consumer; one that does not match, or on another bus, is not delivered", async () => {
    const event = (id: string, band: string): EventBridgeEnvelope => ({ version: '0', id, 'detail-type': 'Scan Finished', source: 'e2e.telescope', time: new Date(h().clock.now()).toISOString(), detail: { band, scan: 42 } });
    expect(await (await w()).putEvent(event('scan-c', 'C'), E2E_ASSET_BUS)).toStrictEqual([]);
    expect(await (await w()).putEvent(event('scan-l-default', 'L'))).toStrictEqual([]);
    const delivered = await (await w()).putEvent(event('scan-l', 'L'), E2E_ASSET_BUS);
    expect(delivered.map((d) => d.error)).toStrictEqual([undefined]);
    await h().settle();
    const runs = await runsOf('e2e_eventbridge_consumer');
    expect(runs.map((r) => r.state)).toStrictEqual(['success']);
    expect(await readResult('e2e_eventbridge_consumer', runs[0]!.runId)).toStrictEqual({ 'scan://e2e/finished': [{ band: 'L', scan: 42 }] });
  });

  it('a delivery that failed after its run was written, delivered again, starts that run exactly once', async () => {
    const before = (await runsOf('e2e_s3_consumer')).length;
    fault = (input) => input.includes('RUN#e2e_s3_consumer#asset_triggered__');
    const first = await (await w()).putObject(E2E_ASSET_BUCKET, 'incoming/scan-3.ms', 'faulty');
    expect(injected.length).toBe(1);
    expect(first.deliveries.map((d) => d.error?.message ?? 'ok')).toStrictEqual([expect.stringContaining('injected fault')]);
    // EventBridge (or Lambda's async retry) delivers it again.
    const retried = await (await w()).putEvent(first.event);
    expect(retried.map((d) => d.error)).toStrictEqual([undefined]);
    await h().settle();
    const runs = await runsOf('e2e_s3_consumer');
    expect(runs).toHaveLength(before + 1);
    expect(runs.every((r) => r.state === 'success')).toBe(true);
    const events = await h().store.listAssetEvents({ uri: `s3://${E2E_ASSET_BUCKET}/incoming/`, limit: 100 });
    const mine = events.events.filter((e) => (e.extra as { key?: string }).key === 'incoming/scan-3.ms');
    expect(mine).toHaveLength(1);
    expect(mine[0]!.createdRuns).toHaveLength(1);
  });
});
