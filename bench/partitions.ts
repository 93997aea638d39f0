// The partitioned-iteration benchmark (`npm run -s bench -- --only partitions`): the same trivial work
// done three ways, locally (LocalRunner on FakeClock, a counting proxy of the memory store) and on the
// local cloud (the e2e harness: compiled machines, the lib/aws cores, DynamoDB Local, s3rver):
// - `partitioned`: P partitions x N items, `.expand(partitions).iterate((p) => items)`;
// - `iterate`: P x N items in one instance, `.iterate(items)`;
// - `mapping`: P instances, `.expand(partitions)` (one item each).
// Figures: median wall time, items per second, and per item: store requests (local), DynamoDB requests,
// state transitions, Lambda invocations and executions (local cloud), as e2e/cost.ts meters them.
// Items in flight at once: 200 in both iterations (10 instances x 20, and 200 in the one instance), as the
// e2e wide iteration test runs them (the local engine gives an item's Task 60 s of real time).
// Sizes: AIRLESS_BENCH_PARTITIONS=PxN (default 100x1000; AIRLESS_BENCH_CLOUD_PARTITIONS for the local cloud alone); repeats: AIRLESS_BENCH_REPEAT (default 3 local, 1 cloud).
import { startEmulators } from '../e2e/backends.ts';
import { startHarness } from '../e2e/harness.ts';
import { dag, FakeClock, LocalRunner, MemoryStateStore, type Dag } from '../lib/index.ts';

export type PartitionsShape = 'partitioned' | 'iterate' | 'mapping';

export interface PartitionsFigures {
  shape: PartitionsShape;
  where: 'local' | 'cloud';
  items: number;
  runs: number;
  /** Median wall time of a run, ms. */
  wallMs: number;
  itemsPerSecond: number;
  /** Local: StateStore calls per item. */
  storeRequestsPerItem?: number;
  /** Local cloud: DynamoDB requests, state transitions, Lambda invocations, executions per item. */
  ddbRequestsPerItem?: number;
  transitionsPerItem?: number;
  invocationsPerItem?: number;
  executionsPerItem?: number;
}

export interface PartitionsScenario {
  name: 'partitions';
  partitions: number;
  itemsPerPartition: number;
  figures: PartitionsFigures[];
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function dagsFor(p: number, n: number): Record<PartitionsShape, { dag: Dag; items: number }> {
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);
  return {
    partitioned: {
      items: p * n,
      dag: dag({ dagId: 'bench_partitioned', maxActiveTasks: 10 }, ({ task }) => {
        const parts = task('parts', () => range(p));
        const t = task('work', (_c, x: number) => x + 1, { executionTimeout: '50s' }).expand<number>(parts).iterate(() => range(n), { concurrency: 20 });
        task('count', (_c, xs: number[][]) => xs.reduce((a, l) => a + l.length, 0))(t);
      }),
    },
    iterate: {
      items: p * n,
      dag: dag({ dagId: 'bench_iterate' }, ({ task }) => {
        const list = task('list', () => range(p * n));
        const t = task('work', (_c, x: number) => x + 1, { executionTimeout: '50s' }).iterate(list, { concurrency: 200 });
        task('count', (_c, xs: number[]) => xs.length)(t);
      }),
    },
    mapping: {
      items: p,
      dag: dag({ dagId: 'bench_mapping', maxActiveTasks: 100 }, ({ task }) => {
        const parts = task('parts', () => range(p));
        const t = task('work', (_c, x: number) => x + 1).expand(parts);
        task('count', (_c, xs: number[]) => xs.length)(t);
      }),
    },
  };
}

async function local(shape: PartitionsShape, d: Dag, items: number, repeat: number): Promise<PartitionsFigures> {
  const walls: number[] = [];
  const requests: number[] = [];
  for (let i = 0; i < repeat; i++) {
    let calls = 0;
    const store = new MemoryStateStore();
    const counted = new Proxy(store, {
      get(target, prop, receiver) {
        const v: unknown = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]): unknown => {
          calls++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const runner = new LocalRunner({ dags: [d], store: counted, clock: new FakeClock(Date.UTC(2026, 0, 1)), captureConsole: false, pools: { default_pool: 1_000_000 } });
    const started = performance.now();
    const report = await runner.run({ dagId: d.dagId, runId: `bench_${i}` });
    walls.push(performance.now() - started);
    runner.close();
    if (report.state !== 'success') throw new Error(`${shape}: the local run ended ${report.state}`);
    requests.push(calls / items);
  }
  const wallMs = median(walls);
  return { shape, where: 'local', items, runs: repeat, wallMs: round(wallMs, 0), itemsPerSecond: round((items / wallMs) * 1000, 0), storeRequestsPerItem: round(median(requests)) };
}

async function cloud(all: Record<PartitionsShape, { dag: Dag; items: number }>, repeat: number): Promise<PartitionsFigures[]> {
  const emulators = await startEmulators();
  const h = await startHarness({ handlers: 'core', emulators, dags: Object.values(all).map((x) => x.dag) });
  try {
    const out: PartitionsFigures[] = [];
    for (const [shape, { dag: d, items }] of Object.entries(all) as [PartitionsShape, { dag: Dag; items: number }][]) {
      const walls: number[] = [];
      const per = { ddb: [] as number[], transitions: [] as number[], invocations: [] as number[], executions: [] as number[] };
      for (let i = 0; i < repeat; i++) {
        h.meter.reset();
        const started = performance.now();
        const run = await h.run({ dagId: d.dagId, runId: `bench_${shape}_${i}` });
        walls.push(performance.now() - started);
        if (run.state !== 'success') throw new Error(`${shape}: the run on the local cloud ended ${run.state}: ${JSON.stringify(h.errors.slice(0, 3))}`);
        const c = h.meter.total();
        per.ddb.push(c.ddbRequests / items);
        per.transitions.push(c.transitions / items);
        per.invocations.push(c.lambdaInvocations / items);
        per.executions.push(c.executions / items);
      }
      const wallMs = median(walls);
      out.push({
        shape,
        where: 'cloud',
        items,
        runs: repeat,
        wallMs: round(wallMs, 0),
        itemsPerSecond: round((items / wallMs) * 1000, 0),
        ddbRequestsPerItem: round(median(per.ddb)),
        transitionsPerItem: round(median(per.transitions)),
        invocationsPerItem: round(median(per.invocations)),
        executionsPerItem: round(median(per.executions)),
      });
    }
    return out;
  } finally {
    await h.close();
    await emulators.stop();
  }
}

export async function runPartitionsScenario(): Promise<PartitionsScenario> {
  const [p, n] = (process.env['AIRLESS_BENCH_PARTITIONS'] ?? '100x1000').split('x').map(Number) as [number, number];
  if (!Number.isInteger(p) || !Number.isInteger(n) || p < 1 || n < 1) throw new Error(`AIRLESS_BENCH_PARTITIONS must be PxN (two positive integers), got ${process.env['AIRLESS_BENCH_PARTITIONS']}`);
  const repeat = process.env['AIRLESS_BENCH_REPEAT'] === undefined ? null : Number(process.env['AIRLESS_BENCH_REPEAT']);
  const all = dagsFor(p, n);
  const figures: PartitionsFigures[] = [];
  for (const [shape, { dag: d, items }] of Object.entries(all) as [PartitionsShape, { dag: Dag; items: number }][]) figures.push(await local(shape, d, items, repeat ?? 3));
  // The local cloud's size may be set apart (AIRLESS_BENCH_CLOUD_PARTITIONS=PxN): 100,000 items take it many minutes.
  const [cp, cn] = (process.env['AIRLESS_BENCH_CLOUD_PARTITIONS'] ?? `${p}x${n}`).split('x').map(Number) as [number, number];
  if (!Number.isInteger(cp) || !Number.isInteger(cn) || cp < 1 || cn < 1) throw new Error(`AIRLESS_BENCH_CLOUD_PARTITIONS must be PxN (two positive integers), got ${process.env['AIRLESS_BENCH_CLOUD_PARTITIONS']}`);
  figures.push(...(await cloud(dagsFor(cp, cn), repeat ?? 1)));
  return { name: 'partitions', partitions: p, itemsPerPartition: n, figures };
}

/** The figures as the bench's table prints them. */
export function partitionsTable(s: PartitionsScenario): string {
  const lines = [`\npartitioned iteration (P partitions x N items; plain iteration of P x N items in one instance; mapping of P instances; local: ${s.partitions} x ${s.itemsPerPartition}):\n`];
  for (const f of s.figures) {
    const costs =
      f.where === 'local'
        ? `store requests/item ${f.storeRequestsPerItem}`
        : `DynamoDB requests/item ${f.ddbRequestsPerItem}, transitions/item ${f.transitionsPerItem}, invocations/item ${f.invocationsPerItem}, executions/item ${f.executionsPerItem}`;
    lines.push(`  ${f.where.padEnd(5)} ${f.shape.padEnd(11)} ${String(f.items).padStart(7)} items  median ${String(f.wallMs).padStart(7)} ms (${f.runs} runs)  ${String(f.itemsPerSecond).padStart(7)} items/s  ${costs}\n`);
  }
  return lines.join('');
}

