// The benchmark's scenarios: how each DAG is built, how it is run, and what a correct run looks like.
import { dag, sensor, task, type Dag, type TaskNode } from '../lib/index.ts';

/** Limits high enough that no scenario is throttled by maxActiveTasks or the default pool. */
export const MAX_ACTIVE_TASKS = 1_000_000;
export const DEFAULT_POOL_SLOTS = 1_000_000;

/** What a scenario checks after its run, beyond "the run succeeded with the expected instance count". */
export interface Check {
  /** Throw (with a message naming what is wrong) if the run's results are not the expected ones. */
  verify(readXCom: (taskId: string) => Promise<unknown>): Promise<void>;
  /** Extra figures to report (e.g. how many pokes the sensors made). */
  extra?(): Record<string, number>;
}

export interface Scenario {
  name: string;
  description: string;
  /** Task instances a correct run has (what the run report must list). */
  taskInstances: number;
  /** Build the DAG (timed as buildMs) and the checks of its run. */
  build(): { dag: Dag; check: Check };
}

const trivial = (): null => null;

function expectEqual(what: string, got: unknown, want: unknown): void {
  if (got !== want) throw new Error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

/** One root, `n` trivial tasks each after the root, one join after all of them (trigger rule all_success). */
function fanout(n: number, label: string): Scenario {
  return {
    name: `fanout-${label}`,
    description: `root -> ${n.toLocaleString('en-US')} parallel tasks -> join`,
    taskInstances: n + 2,
    build() {
      let joinSeen = -1;
      const d = dag({ dagId: `bench_fanout_${label}`, maxActiveTasks: MAX_ACTIVE_TASKS }, () => {
        const root = task('root', trivial);
        const middle: TaskNode<null>[] = new Array<TaskNode<null>>(n);
        for (let i = 0; i < n; i++) middle[i] = task(`t_${i}`, trivial).after(root);
        task('join', (ctx) => {
          joinSeen = ctx.tryNumber;
          return n;
        }).after(middle);
      });
      return {
        dag: d,
        check: {
          async verify(readXCom) {
            expectEqual('join result', await readXCom('join'), n);
            expectEqual('join ran once, on try', joinSeen, 1);
          },
        },
      };
    },
  };
}

/** `n` tasks in a chain: t_0 -> t_1 -> ... -> t_{n-1}. */
function chainOf(n: number, label: string): Scenario {
  return {
    name: `chain-${label}`,
    description: `${n.toLocaleString('en-US')} tasks in a chain`,
    taskInstances: n,
    build() {
      let ran = 0;
      let order = true;
      const d = dag({ dagId: `bench_chain_${label}`, maxActiveTasks: MAX_ACTIVE_TASKS }, () => {
        let prev: TaskNode<number> | null = null;
        for (let i = 0; i < n; i++) {
          const t: TaskNode<number> = task(`t_${i}`, () => {
            if (ran !== i) order = false;
            ran++;
            return i;
          });
          if (prev) t.after(prev);
          prev = t;
        }
      });
      return {
        dag: d,
        check: {
          async verify(readXCom) {
            expectEqual('tasks run', ran, n);
            expectEqual('tasks ran in chain order', order, true);
            expectEqual('last task result', await readXCom(`t_${n - 1}`), n - 1);
          },
        },
      };
    },
  };
}

/** A list of `n` items, one task mapped over it (`n` instances), one task collecting the results. */
function mapOver(n: number, label: string): Scenario {
  return {
    name: `map-${label}`,
    description: `make ${n.toLocaleString('en-US')} items -> .expand() -> collect`,
    taskInstances: n + 2,
    build() {
      const d = dag({ dagId: `bench_map_${label}`, maxActiveTasks: MAX_ACTIVE_TASKS }, () => {
        const items = task('make_items', () => Array.from({ length: n }, (_, i) => i));
        const doubled = task('double', (_ctx, x: number) => x * 2).expand(items);
        task('collect', (_ctx, results: number[]) => {
          let sum = 0;
          for (let i = 0; i < results.length; i++) {
            if (results[i] !== 2 * i) throw new Error(`collect: result ${i} is ${results[i]}, expected ${2 * i}`);
            sum += results[i]!;
          }
          return { count: results.length, sum };
        })(doubled);
      });
      return {
        dag: d,
        check: {
          async verify(readXCom) {
            const r = (await readXCom('collect')) as { count: number; sum: number } | null;
            expectEqual('collect count', r?.count, n);
            expectEqual('collect sum', r?.sum, n * (n - 1));
          },
        },
      };
    },
  };
}

/**
 * `n` deferrable sensors at once, each poking every `intervalMs` (real time) until `doneAfterMs` have
 * passed since its first poke. Between pokes a sensor holds nothing but a timer.
 */
function waits(n: number, label: string, intervalMs: number, doneAfterMs: number): Scenario {
  return {
    name: `waits-${label}`,
    description: `${n.toLocaleString('en-US')} sensors poking every ${intervalMs / 1000} s for ~${doneAfterMs / 1000} s (real time)`,
    taskInstances: n,
    build() {
      const firstPoke = new Map<string, number>();
      const pokesBySensor = new Map<string, number>();
      let pokes = 0;
      const d = dag({ dagId: `bench_waits_${label}`, maxActiveTasks: MAX_ACTIVE_TASKS }, () => {
        for (let i = 0; i < n; i++) {
          sensor({ taskId: `wait_${i}`, pokeInterval: intervalMs, timeout: doneAfterMs * 30 }, (ctx) => {
            const now = Date.now();
            let first = firstPoke.get(ctx.taskId);
            if (first === undefined) firstPoke.set(ctx.taskId, (first = now));
            pokes++;
            pokesBySensor.set(ctx.taskId, (pokesBySensor.get(ctx.taskId) ?? 0) + 1);
            return now - first >= doneAfterMs;
          });
        }
      });
      const minPokes = Math.ceil(doneAfterMs / intervalMs) + 1;
      return {
        dag: d,
        check: {
          async verify() {
            expectEqual('sensors poked', pokesBySensor.size, n);
            for (const [id, c] of pokesBySensor) {
              if (c < minPokes) throw new Error(`sensor '${id}' was poked ${c} times; at least ${minPokes} expected`);
            }
          },
          extra: () => ({ pokes }),
        },
      };
    },
  };
}

export const SCENARIOS: readonly Scenario[] = [
  fanout(1_000, '1k'),
  fanout(10_000, '10k'),
  fanout(100_000, '100k'),
  chainOf(10_000, '10k'),
  mapOver(100_000, '100k'),
  waits(10_000, '10k', 1_000, 10_000),
];

export function scenarioByName(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
