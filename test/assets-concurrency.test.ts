// Different asset events for one consumer DAG delivered at the same time, each by its own scheduler (as
// concurrent Lambda invocations are), on a store whose every call takes a random while, so that the
// deliveries read the consumer's queue at different moments (on DynamoDB Local, the requests interleave
// as they will): each event is taken by at most one run, every run's events satisfy the condition, and
// what stays queued does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../lib/clients/aws-clients.ts';
import { createTable } from '../lib/store/create-table.ts';
import { DynamoDbStateStore } from '../lib/store/dynamodb-store.ts';
import { asset, dag } from '../lib/index.ts';
import { evaluateAssetCondition } from '../lib/model/asset.ts';
import { assetCondition } from '../lib/model/spec.ts';
import { Scheduler } from '../lib/scheduler/scheduler.ts';
import type { StateStore } from '../lib/store/state-store.ts';
import { localStores } from './helpers.ts';
import { startDynamoDbLocal, type DynamoDbLocal } from './support/dynamodb-local.ts';

const a = asset('s3://lake/conc-a');
const b = asset('s3://lake/conc-b');
const either = dag({ dagId: 'conc_either', schedule: a.or(b) }, ({ task }) => void task('read', () => 1));
const both = dag({ dagId: 'conc_both', schedule: a.and(b) }, ({ task }) => void task('read', () => 1));
const dags = { getDag: (id: string) => [either, both].find((d) => d.dagId === id), dags: [either, both] };
const T0 = Date.parse('2026-03-01T00:00:00Z');

/** A seeded generator (mulberry32), so that a failure can be run again as it was. */
function random(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The store with every method call delayed by 0 to 3 turns of the event loop, chosen at random. */
function jittery(store: StateStore, rand: () => number): StateStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        for (let n = Math.floor(rand() * 4); n > 0; n--) await new Promise((r) => setImmediate(r));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function deliverAtOnce(base: StateStore, seed: number, count: number): Promise<void> {
  const rand = random(seed);
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      new Scheduler(jittery(base, rand), dags, { now: () => T0 + i }).recordAssetEvent({
        uri: i % 2 === 0 ? a.uri : b.uri,
        dedupeKey: `sqs:m-${seed}-${i}`,
        source: { kind: 'watcher', watcher: 'sqs', detail: {} },
        timestamp: new Date(T0 + i).toISOString(),
      }),
    ),
  );
}

/** Each event in at most one run of the DAG (and named by it), each run's events satisfying the condition, the rest queued and not satisfying it. */
async function expectEachEventTakenOnce(base: StateStore, dagId: string, count: number, what: string): Promise<number> {
  const d = dags.getDag(dagId)!;
  const condition = assetCondition(d.spec.schedule)!;
  const runs = await base.listRuns({ dagId });
  const taken = runs.flatMap((r) => r.triggeringAssetEvents!.map((e) => e.id));
  expect(new Set(taken).size, `${what}: an event taken by two runs`).toBe(taken.length);
  for (const r of runs) expect(evaluateAssetCondition(condition, new Set(r.triggeringAssetEvents!.map((e) => e.uri))), what).toBe(true);
  const queued = (await base.listAssetQueue(dagId)).map((q) => q.eventId);
  expect([...taken, ...queued].sort(), what).toEqual((await base.listAssetEvents({ limit: 1000 })).events.map((e) => e.id).sort());
  expect(queued.length === 0 || !evaluateAssetCondition(condition, new Set((await base.listAssetQueue(dagId)).map((q) => q.uri))), what).toBe(true);
  for (const e of (await base.listAssetEvents({ limit: 1000 })).events) {
    const mine = e.createdRuns.filter((r) => r.dagId === dagId);
    expect(mine.length, what).toBe(taken.includes(e.id) ? 1 : 0);
  }
  expect((await base.getAssetClaim(dagId)).done, what).toBe(true);
  expect(count).toBeGreaterThan(0);
  return runs.length;
}

describe.each(localStores())('asset events for one consumer at once (%s)', (_name, makeStore) => {
  it('30 events of a and b, delivered at once, 20 times over: no event starts two runs of either consumer', async () => {
    let runsOfEither = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const base = makeStore();
      await deliverAtOnce(base, seed, 30);
      runsOfEither += await expectEachEventTakenOnce(base, 'conc_either', 30, `seed ${seed}, a | b`);
      await expectEachEventTakenOnce(base, 'conc_both', 30, `seed ${seed}, a & b`);
      // a | b holds with any event: nothing of it stays queued.
      expect(await base.listAssetQueue('conc_either'), `seed ${seed}`).toEqual([]);
    }
    // The deliveries overlapped (a run took several events: one delivery alone takes its own event only),
    // and not in lock step (then every seed would make one run of a | b).
    expect(runsOfEither).toBeLessThan(20 * 30);
    expect(runsOfEither).toBeGreaterThan(20);
  });
});

describe('asset events for one consumer at once (DynamoDB Local)', () => {
  let ddb: DynamoDbLocal;
  let tables = 0;
  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
  }, 120_000);
  afterAll(async () => {
    await ddb?.stop();
  });

  it('20 events of a and b, delivered at once, twice over: no event starts two runs of either consumer', async () => {
    const doc = dynamoDbDocumentClient(ddb.client);
    let runsOfEither = 0;
    for (let seed = 1; seed <= 2; seed++) {
      const tableName = `airless-conc-${tables++}`;
      await createTable(ddb.client, tableName);
      const base = new DynamoDbStateStore({ tableName, client: doc });
      await deliverAtOnce(base, seed, 20);
      runsOfEither += await expectEachEventTakenOnce(base, 'conc_either', 20, `seed ${seed}, a | b`);
      await expectEachEventTakenOnce(base, 'conc_both', 20, `seed ${seed}, a & b`);
      expect(await base.listAssetQueue('conc_either'), `seed ${seed}`).toEqual([]);
    }
    expect(runsOfEither).toBeLessThan(2 * 20);
  }, 120_000);
});
