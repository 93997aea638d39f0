/**
 * Shared pieces of the radio-astronomy example DAGs (example_workflow and its stage DAGs). Not a DAG
 * file: the leading '_' tells the DAG loader to skip it.
 *
 * - The params every stage declares (`simulate_failures`, `failure_rate`, `nchan`) and the retry policy
 *   every stage task gets from `defaultArgs`.
 * - `maybeFail()`: the failure simulation. With `simulate_failures` on, each data-processing task throws
 *   with probability `failure_rate` on each try, so retries (and, at rate 1, a failed run) can be watched.
 * - Small numeric helpers: a seeded random generator (so default runs are deterministic), rounding, and
 *   the QA scores stages hand each other through the pipeline context.
 */
import type { PipelineState, TaskContext, TaskOptions } from 'airless';

/** Params of every stage DAG: conf given to example_workflow is passed down to each stage unchanged. */
export const FAILURE_PARAMS = {
  simulate_failures: {
    type: 'boolean',
    default: false,
    description: 'Make data-processing tasks fail at random (each try, with probability failure_rate) to watch retries.',
  },
  failure_rate: {
    type: 'number',
    minimum: 0,
    maximum: 1,
    default: 0.1,
    description: 'Probability that a task try fails when simulate_failures is on (1: every try fails).',
  },
} as const;

/** Channels of the image cube: one solver task instance per channel. */
export const NCHAN_PARAM = {
  type: 'integer',
  minimum: 1,
  maximum: 4096,
  default: 16,
  description: 'Channels in the image cube; the solver maps one task instance over each.',
} as const;

/** What FAILURE_PARAMS give a task at run time. */
export interface FailureSimulation {
  readonly simulate_failures: boolean;
  readonly failure_rate: number;
}

/**
 * Retries for every task of a stage DAG. With exponential backoff the wait is at least 1 s (Airflow's
 * rule: `max(1 s, retryDelay * 2^(try-1))` plus jitter), so a task that fails every try costs about 2 s
 * before it is marked failed; `npx airless dags test example_workflow` stays within a few seconds.
 */
export const STAGE_DEFAULT_ARGS = {
  retries: 2,
  retryDelay: '200ms',
  retryExponentialBackoff: true,
  maxRetryDelay: '5s',
} as const satisfies TaskOptions;

/**
 * Call first thing in a data-processing task. When the run has `simulate_failures`, throws a plain (so
 * retriable) Error with probability `failure_rate`. Draws no random number otherwise: default runs are
 * deterministic.
 */
export function maybeFail(ctx: Pick<TaskContext<FailureSimulation>, 'params' | 'taskId' | 'mapIndex' | 'tryNumber' | 'maxTries'>): void {
  const { simulate_failures: on, failure_rate: rate } = ctx.params;
  if (!on || rate <= 0) return;
  if (Math.random() < rate) {
    const where = ctx.mapIndex === null ? ctx.taskId : `${ctx.taskId}[${ctx.mapIndex}]`;
    throw new Error(`simulated failure in ${where} (try ${ctx.tryNumber} of ${ctx.maxTries}, failure_rate ${rate})`);
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same "observation" every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A normally distributed draw (Box-Muller) from a uniform generator. */
export function gaussian(random: () => number, sigma = 1): number {
  const u = 1 - random();
  const v = random();
  return sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

export function rms(values: readonly number[]): number {
  return values.length ? Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length) : 0;
}

/** ALMA pipeline QA colours: below 0.33 red, below 0.66 yellow, below 0.9 blue, else green. */
export type QaRating = 'red' | 'yellow' | 'blue' | 'green';

export function qaRating(score: number): QaRating {
  if (score < 0.33) return 'red';
  if (score < 0.66) return 'yellow';
  if (score < 0.9) return 'blue';
  return 'green';
}

/** Every stage's save holds at least its QA score in [0, 1]. */
export interface StageQa {
  qaScore: number;
}

/** The QA score in a stage's saved data, if it has one. */
export function qaScoreOf(data: unknown): number | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const score = (data as Partial<StageQa>).qaScore;
  return typeof score === 'number' ? score : undefined;
}

/** The data a stage last saved to the pipeline context, if it saved a QA score. */
export function stageData<T extends StageQa>(state: PipelineState, stage: string): T | undefined {
  const data = state.stages[stage];
  return qaScoreOf(data) === undefined ? undefined : (data as T);
}
