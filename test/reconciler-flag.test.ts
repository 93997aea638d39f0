// The reconciler's flag on DynamoDB Local: arming (once, however many hosts arm at once; again when the
// start may have been lost; over a loop that stopped doing rounds), and the rounds of a loop (going on
// while runs are active or an arming came since the previous round, ending otherwise, never ending over
// an arming that came during the round). Step Functions is stood in for by a starter that records what
// it was asked to start, as StartExecution would take it (a name and an input).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../lib/clients/aws-clients.ts';
import {
  lostAfterMs,
  parseReconcilerLoop,
  ReconcilerArming,
  ReconcilerFlag,
  reconcilerRound,
  sfnReconcilerStarter,
  type ReconcilerStarter,
} from '../lib/aws/reconciler.ts';
import { RECONCILER_ROUNDS_PER_EXECUTION, reconcilerExecutionName, type ReconcilerInput, type ReconcilerLoop } from '../lib/compiler/reconciler.ts';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createTable } from '../lib/store/create-table.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from './support/dynamodb-local.ts';

let ddb: DynamoDbLocal;
let doc: DynamoDBDocumentClient;
let tables = 0;
const T0 = Date.parse('2026-12-07T08:00:00.000Z');

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  doc = dynamoDbDocumentClient(new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
}, 120_000);

afterAll(async () => {
  doc?.destroy();
  await ddb?.stop();
});

/** What a starter was asked to start, in order. */
type Started = { name: string; input: ReconcilerInput }[];

async function setup(intervalSeconds = 300) {
  const tableName = `airless-reconciler-${tables++}`;
  await createTable(ddb.client, tableName);
  const flag = new ReconcilerFlag(doc, tableName);
  const started: Started = [];
  const starter: ReconcilerStarter = {
    start: async (name, input) => {
      started.push({ name, input: structuredClone(input) });
    },
  };
  const clock = { now: T0 };
  const arming = new ReconcilerArming({ flag, starter, intervalSeconds, now: () => clock.now });
  return { flag, started, arming, clock };
}

const firstLoop = (epoch: number, armedAt: number, seq: number, intervalSeconds = 300): ReconcilerLoop => ({ epoch, armedAt, seq, generation: 0, round: 0, intervalSeconds });

describe('arming the reconciler', () => {
  it('the first arming starts epoch 1 with the seq it saw; a live loop is left alone', async () => {
    const { flag, started, arming, clock } = await setup();
    expect(await flag.get()).toMatchObject({ armed: false, epoch: 0, seq: 0 });
    expect(await arming.arm()).toStrictEqual({ epoch: 1, started: `e1-${T0}` });
    expect(started).toStrictEqual([{ name: `e1-${T0}`, input: { loop: firstLoop(1, T0, 1) } }]);
    expect(await flag.get()).toStrictEqual({ armed: true, epoch: 1, armedAt: T0, seq: 1, startSeq: 1, intervalSeconds: 300, rounds: 0, deadline: T0 + lostAfterMs(300) });

    // Its first round done: a later arming only counts itself.
    clock.now += 300_000;
    expect(await flag.round(1, clock.now + lostAfterMs(300))).not.toBeNull();
    expect(await arming.arm()).toStrictEqual({ epoch: 1, started: null });
    expect(started).toHaveLength(1);
    expect(await flag.get()).toMatchObject({ armed: true, epoch: 1, seq: 2, rounds: 1 });
  });

  it('before the loop has done a round, an arming starts it again under the same name and input (its start may have been lost)', async () => {
    const { started, arming } = await setup();
    await arming.arm();
    expect(await arming.arm()).toStrictEqual({ epoch: 1, started: `e1-${T0}` });
    expect(started.map((s) => s.name)).toStrictEqual([`e1-${T0}`, `e1-${T0}`]);
    expect(started[1]!.input).toStrictEqual(started[0]!.input);
  });

  it('of hosts arming at once, one arms: every start asked for is the one execution of epoch 1', async () => {
    const { flag, started, arming } = await setup();
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => arming.arm()));
    expect(new Set(outcomes.map((o) => o.epoch))).toStrictEqual(new Set([1]));
    expect(new Set(started.map((s) => JSON.stringify(s)))).toStrictEqual(new Set([JSON.stringify(started[0])]));
    expect(started[0]!.name).toBe(`e1-${T0}`);
    expect(await flag.get()).toMatchObject({ armed: true, epoch: 1, seq: 8 });
  });

  it('a loop that has done no round past its deadline is taken as lost: the next arming starts epoch 2, and the old loop ends at its next round', async () => {
    const { flag, started, arming, clock } = await setup();
    await arming.arm();
    clock.now = T0 + lostAfterMs(300) + 1;
    expect(await arming.arm()).toStrictEqual({ epoch: 2, started: `e2-${clock.now}` });
    expect(started.at(-1)!.input.loop).toStrictEqual(firstLoop(2, clock.now, 2));
    const old = await reconcilerRound(flag, firstLoop(1, T0, 1), clock.now, async () => 0);
    expect(old).toMatchObject({ next: 'done', reason: 'the flag is no longer armed for epoch 1' });
    expect(await flag.get()).toMatchObject({ armed: true, epoch: 2 });
  });

  it('the Step Functions starter refuses an ARN that is not a state machine', () => {
    expect(() => sfnReconcilerStarter(new SFNClient({ region: LOCAL_REGION }), 'arn:aws:lambda:us-east-1:1:function:x')).toThrow(
      "the reconciler's state machine ARN must look like arn:<partition>:states:<region>:<account>:stateMachine:<name> (got 'arn:aws:lambda:us-east-1:1:function:x')",
    );
  });
});

describe('a round of the loop', () => {
  it('goes on while runs are active; ends at the first round that finds none with no arming since the round before', async () => {
    const { flag, arming, clock, started } = await setup();
    await arming.arm();
    let loop = started[0]!.input.loop;
    const counted: number[] = [];

    clock.now += 300_000;
    let reply = await reconcilerRound(flag, loop, clock.now, async () => (counted.push(2), 2));
    expect(reply).toStrictEqual({ loop: { ...loop, round: 1 }, next: 'sleep', name: null, activeRuns: 2, reason: null });
    loop = reply.loop;

    clock.now += 300_000;
    reply = await reconcilerRound(flag, loop, clock.now, async () => (counted.push(0), 0));
    expect(reply).toStrictEqual({ loop, next: 'done', name: null, activeRuns: 0, reason: 'no run is queued or running' });
    expect(counted).toStrictEqual([2, 0]);
    expect(await flag.get()).toMatchObject({ armed: false, epoch: 1, rounds: 2 });

    // A replay of the round that disarmed ends too, reconciling nothing.
    expect(await reconcilerRound(flag, loop, clock.now, async () => (counted.push(9), 9))).toMatchObject({ next: 'done', reason: 'the flag is no longer armed for epoch 1' });
    expect(counted).toStrictEqual([2, 0]);

    // The next arming starts epoch 2.
    clock.now += 60_000;
    expect(await arming.arm()).toStrictEqual({ epoch: 2, started: `e2-${clock.now}` });
  });

  it('does not end over an arming since the previous round: the next round, an interval later, does', async () => {
    const { flag, arming, clock, started } = await setup();
    await arming.arm();
    const loop = started[0]!.input.loop;
    await arming.arm();
    clock.now += 300_000;
    const reply = await reconcilerRound(flag, loop, clock.now, async () => 0);
    expect(reply).toMatchObject({ next: 'sleep', loop: { seq: 2, round: 1 } });
    clock.now += 300_000;
    expect(await reconcilerRound(flag, reply.loop, clock.now, async () => 0)).toMatchObject({ next: 'done' });
  });

  it('does not end over an arming made while it reconciled (a run created after its listing)', async () => {
    const { flag, arming, clock, started } = await setup();
    await arming.arm();
    const loop = started[0]!.input.loop;
    clock.now += 300_000;
    await flag.round(1, clock.now + lostAfterMs(300));
    const reply = await reconcilerRound(flag, loop, clock.now, async () => {
      expect(await arming.arm()).toStrictEqual({ epoch: 1, started: null });
      return 0;
    });
    expect(reply).toMatchObject({ next: 'sleep', activeRuns: 0 });
    expect(await flag.get()).toMatchObject({ armed: true, epoch: 1, seq: 2 });
    expect(started).toHaveLength(1);
  });

  it(`continues as new after ${RECONCILER_ROUNDS_PER_EXECUTION} rounds, under the next generation's name`, async () => {
    const { flag, arming, clock, started } = await setup();
    await arming.arm();
    const loop = { ...started[0]!.input.loop, round: RECONCILER_ROUNDS_PER_EXECUTION - 1 };
    clock.now += 300_000;
    const reply = await reconcilerRound(flag, loop, clock.now, async () => 1);
    const next = { ...loop, generation: 1, round: 0 };
    expect(reply).toStrictEqual({ loop: next, next: 'continue_as_new', name: `e1-${T0}-g1`, activeRuns: 1, reason: null });
    expect(reconcilerExecutionName(next)).toBe(`e1-${T0}-g1`);
  });

  it("refuses a loop state that is not one, naming the field", () => {
    expect(() => parseReconcilerLoop({ epoch: 1, armedAt: 2, seq: 3, generation: 0, round: 0 })).toThrow("a reconcile round's 'loop.intervalSeconds' must be a whole number, at least 0 (got undefined)");
    expect(() => parseReconcilerLoop({ epoch: -1 })).toThrow("a reconcile round's 'loop.epoch' must be a whole number, at least 0 (got -1)");
    expect(() => parseReconcilerLoop('x')).toThrow(`a reconcile round's 'loop' must be an object (got "x")`);
  });
});
