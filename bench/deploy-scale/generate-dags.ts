// Generated DAGs of mixed tasks, the load of the deploy-scale benchmark (bench/deploy-scale/): how large a
// team's stack gets with many DAGs of many tasks. Deterministic: the same options make the same DAGs.
import { batchJob, dag, sensor, task, type BatchJobInput, type Dag, type TaskNode, type TaskOptions } from '../../lib/index.ts';
import type { TaskSpec } from '../../lib/model/spec.ts';

/** The kinds of task a generated DAG has, each at least once. */
export const GENERATED_KINDS = ['plain', 'mapped', 'iterated', 'sensor', 'batch', 'batch_array'] as const;
export type GeneratedKind = (typeof GENERATED_KINDS)[number];

/** After the first task (a plain task that makes the list the others map over), the kinds in turn. */
const CYCLE: readonly GeneratedKind[] = ['mapped', 'iterated', 'sensor', 'batch', 'batch_array', 'plain'];

/** The fewest tasks per DAG that has every kind: the list-making task and one of each in {@link CYCLE}. */
export const MIN_TASKS_PER_DAG = 1 + CYCLE.length;

/** The most distinct Batch job queue / job definition pairs the generated DAGs name. */
export const MAX_BATCH_PAIRS = 100;

export interface GenerateDagsOptions {
  /** DAGs to make (1 or more). */
  dags: number;
  /** Tasks per DAG (at least {@link MIN_TASKS_PER_DAG}). */
  tasksPerDag: number;
  /**
   * Distinct Batch job queue / job definition pairs the Batch tasks name, in turn.
   * @default one per Batch task, at most {@link MAX_BATCH_PAIRS}
   */
  batchPairs?: number;
}

/** Options of a Lambda-shaped task that vary with its position, so both workflow types are exercised. */
const LAMBDA_VARIANTS: readonly TaskOptions[] = [
  // No retries, a short timeout: an Express state machine.
  { retries: 0, executionTimeout: '30s' },
  // Retries wait in the execution: Standard.
  { retries: 2, retryDelay: '1m', retryExponentialBackoff: true },
  // A timeout longer than an Express execution leaves a try: Standard.
  { retries: 0, executionTimeout: '10m' },
];

/** The kind a generated task is, from its spec (what the generator declared it as). */
export function generatedKindOf(spec: TaskSpec): GeneratedKind {
  if (spec.kind === 'sensor') return 'sensor';
  if (spec.kind === 'batch') return spec.mapping !== null && spec.batch.array ? 'batch_array' : 'batch';
  if (spec.kind !== 'task') throw new Error(`task '${spec.taskId}' is a ${spec.kind}, which the generator does not make`);
  if (spec.iterate !== null) return 'iterated';
  return spec.mapping !== null ? 'mapped' : 'plain';
}

/** The job queue and job definition of Batch pair `i` (every other definition named without a revision). */
export function batchPair(i: number): { jobQueue: string; jobDefinition: string } {
  const n = String(i).padStart(3, '0');
  return { jobQueue: `scale-queue-${n}`, jobDefinition: i % 2 === 0 ? `scale-job-${n}:1` : `scale-job-${n}` };
}

/** Batch tasks among the first `tasksPerDag` tasks of a generated DAG. */
function batchTasksPerDag(tasksPerDag: number): number {
  let n = 0;
  for (let i = 1; i < tasksPerDag; i++) if (CYCLE[(i - 1) % CYCLE.length]!.startsWith('batch')) n++;
  return n;
}

function checkCount(what: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`generateDags: ${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
}

/**
 * `dags` DAGs (`scale_0000`, ...) of `tasksPerDag` tasks each: first a plain task that makes a list of job
 * inputs, then mapped tasks (`.expand`), iterated tasks (`.iterate`), sensors, single Batch jobs, mapped
 * Batch jobs (array jobs, `.expandKwargs`) and plain tasks in turn. The tasks that take no list run
 * after the task before them. Lambda-shaped tasks (plain and mapped) take the retries and timeouts of
 * {@link LAMBDA_VARIANTS} in turn, so some get Express state machines and some Standard; Batch tasks name
 * the queue / definition pairs in turn, some with a runnableTimeout and retries.
 */
export function generateDags(options: GenerateDagsOptions): Dag[] {
  checkCount('dags', options.dags, 1);
  checkCount('tasksPerDag', options.tasksPerDag, MIN_TASKS_PER_DAG);
  const batchTasks = options.dags * batchTasksPerDag(options.tasksPerDag);
  const pairs = options.batchPairs ?? Math.min(MAX_BATCH_PAIRS, batchTasks);
  checkCount('batchPairs', pairs, 1);
  let batchIndex = 0;
  const nextPair = () => batchPair(batchIndex++ % pairs);

  const out: Dag[] = [];
  for (let d = 0; d < options.dags; d++) {
    const dagId = `scale_${String(d).padStart(4, '0')}`;
    out.push(
      dag({ dagId, description: `Generated (deploy-scale benchmark): ${options.tasksPerDag} mixed tasks`, tags: ['generated'] }, () => {
        const items = task('t00_make_items', ({ runId }): BatchJobInput[] => Array.from({ length: 4 }, (_, i) => ({ command: ['process', runId, String(i)] })), LAMBDA_VARIANTS[0]);
        let previous: TaskNode<unknown> = items;
        for (let i = 1; i < options.tasksPerDag; i++) {
          const kind = CYCLE[(i - 1) % CYCLE.length]!;
          const id = `t${String(i).padStart(2, '0')}_${kind}`;
          const lambda = LAMBDA_VARIANTS[(d + i) % LAMBDA_VARIANTS.length]!;
          let node: TaskNode<unknown>;
          switch (kind) {
            case 'plain':
              node = task(id, (ctx) => ctx.tryNumber, lambda).after(previous);
              break;
            case 'mapped':
              node = task(id, (_ctx, item: BatchJobInput) => item.command?.length ?? 0, lambda).expand(items);
              break;
            case 'iterated':
              node = task(id, (_ctx, item: BatchJobInput) => item.command?.join(' ') ?? '', { retries: i % 2 }).iterate(items, { concurrency: 4, itemRetries: 1 });
              break;
            case 'sensor':
              node = sensor(id, (ctx) => ctx.tryNumber > 0, { pokeInterval: `${30 + (i % 4) * 30}s`, timeout: '6h', retries: i % 2 }).after(previous);
              break;
            case 'batch':
              node = batchJob(id, { ...nextPair(), command: ['run', id], retries: i % 3, ...(i % 2 ? { runnableTimeout: '30m' } : {}), local: { simulate: { duration: '1s' } } }).after(previous);
              break;
            case 'batch_array':
              node = batchJob(id, { ...nextPair(), retries: 1, ...(i % 2 ? {} : { runnableTimeout: '1h' }), local: { simulate: { duration: '1s' } } }).expandKwargs(items);
              break;
          }
          previous = node;
        }
      }),
    );
  }
  return out;
}
