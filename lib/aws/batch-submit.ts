/**
 * Submitting AWS Batch jobs at scale without submitting one twice.
 *
 * - Rate: SubmitJob is limited per account (AWS publishes 50 calls a second). Each process takes a token
 *   from a shared {@link TokenBucket} before every SubmitJob call (default {@link DEFAULT_SUBMIT_RATE_PER_SECOND}
 *   a second, `AIRLESS_BATCH_SUBMIT_RATE` to change it), so one busy process does not throttle itself;
 *   several processes still can, which the retries below absorb.
 * - Retries: SubmitJob is sent with the SDK's retries turned off for that call (the command's retry
 *   middleware replaced by a pass-through), because the SDK would resend a request whose response was
 *   lost and create a second job. `submitIdempotent` decides instead, by what the error says:
 *   - throttled (`TooManyRequestsException`, HTTP 429 and the SDK's other throttling errors) or a clock
 *     skew error: Batch created nothing, so back off (full jitter) and send again;
 *   - refused (another 4xx, e.g. `ClientException`): thrown as it is;
 *   - anything else (a network error, a timeout, a 5xx) leaves it unknown whether the job exists: back
 *     off, then list the queue's jobs of that exact name (ListJobs with the JOB_NAME filter, which the
 *     SDK retries as usual); a job found is the one the lost call created and its id is returned, else
 *     send again.
 *   Names are deterministic per try (callers make them so), which is what makes the lookup sound.
 * - It gives up after `timeoutMs` with a {@link BatchSubmitError} naming the job and the last error.
 */
import { paginateListJobs, SubmitJobCommand, type BatchClient, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import { isClockSkewError, isThrottlingError, retryMiddlewareOptions } from '@smithy/core/retry';
import { setTimeout as delay } from 'node:timers/promises';
import type { Env } from '../clients/aws-clients.ts';

/** SubmitJob calls per second AWS Batch accepts per account (its published quota). */
export const DEFAULT_SUBMIT_RATE_PER_SECOND = 50;
/** Environment variable: SubmitJob calls per second a process allows itself (default 50). */
export const SUBMIT_RATE_ENV = 'AIRLESS_BATCH_SUBMIT_RATE';

export interface TokenBucketOptions {
  ratePerSecond: number;
  /** Tokens it holds when full (the burst it allows). Default: a fifth of a second's worth, at least 1. */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A token bucket: `take()` resolves when a token is free. Takers are served in the order they came
 * (each reserves the next token and sleeps until it is due).
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private tokens: number;
  private refilledAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) throw new RangeError(`a token bucket's rate must be a positive number, got ${options.ratePerSecond}`);
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst ?? Math.max(1, options.ratePerSecond / 5);
    if (!(this.burst >= 1)) throw new RangeError(`a token bucket's burst must be at least 1, got ${this.burst}`);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  async take(): Promise<void> {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.ratePerSecond) / 1000);
    this.refilledAt = now;
    this.tokens -= 1;
    if (this.tokens < 0) await this.sleep((-this.tokens * 1000) / this.ratePerSecond);
  }
}

let shared: TokenBucket | undefined;

/** The process's SubmitJob limiter: `AIRLESS_BATCH_SUBMIT_RATE` calls a second (default 50), made on first use. */
export function sharedSubmitLimiter(env: Env = process.env): TokenBucket {
  if (!shared) {
    const v = env[SUBMIT_RATE_ENV];
    const rate = v === undefined || v === '' ? DEFAULT_SUBMIT_RATE_PER_SECOND : Number(v);
    if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`environment variable ${SUBMIT_RATE_ENV} must be a positive number, got '${v}'`);
    shared = new TokenBucket({ ratePerSecond: rate });
  }
  return shared;
}

/** Replace the process's SubmitJob limiter (`undefined`: made again from the environment on next use). */
export function setSharedSubmitLimiter(limiter: TokenBucket | undefined): void {
  shared = limiter;
}

export interface SubmitIdempotentOptions {
  /** The limiter every SubmitJob call takes a token from. Default {@link sharedSubmitLimiter}; `null`: none. */
  limiter?: TokenBucket | null;
  /** Give up after this long (ms, limiter waits included). Default 120,000. */
  timeoutMs?: number;
  /** Backoff: the n-th retry waits a random time up to `min(maxDelayMs, baseDelayMs * 2^n)`. Defaults 200 and 20,000. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The SDK's `requestTimeout` of each SubmitJob call, ms (a timeout is an unknown outcome). Default 30,000. */
  requestTimeoutMs?: number;
  /**
   * After an unknown outcome: the id of the job a lost call created, if any. Default: the job of exactly
   * this name in the queue (ListJobs with the JOB_NAME filter).
   */
  findExisting?: () => Promise<string | undefined>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface SubmitOutcome {
  jobId: string;
  /** SubmitJob calls sent. */
  attempts: number;
  /** Of which refused as throttled. */
  throttled: number;
  /** The job was found by name after an unknown outcome (a lost response), not returned by SubmitJob. */
  found: boolean;
}

/** `submitIdempotent` gave up: the job may or may not exist (the last error says why). */
export class BatchSubmitError extends Error {
  constructor(
    readonly jobName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BatchSubmitError';
  }
}

type Outcome = 'throttled' | 'refused' | 'unknown';

/** What an error of SubmitJob says about the job: not created (throttled), refused, or unknown. */
export function classifySubmitError(e: unknown): Outcome {
  const err = e as { name?: string; $fault?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } } | null;
  if (err && typeof err === 'object' && (isThrottlingError(err as never) || isClockSkewError(err as never))) return 'throttled';
  const status = err?.$metadata?.httpStatusCode;
  if (err?.$fault === 'client' || (status !== undefined && status >= 400 && status < 500)) return 'refused';
  return 'unknown';
}

/** The id of the job named exactly `input.jobName` in `input.jobQueue`, if there is one (any status). */
export async function findJobByName(client: BatchClient, input: Pick<SubmitJobCommandInput, 'jobName' | 'jobQueue'>): Promise<string | undefined> {
  const pages = paginateListJobs({ client, pageSize: 100 }, { jobQueue: input.jobQueue, filters: [{ name: 'JOB_NAME', values: [input.jobName!] }] });
  for await (const page of pages) {
    // The filter is case-insensitive; names are not.
    const job = (page.jobSummaryList ?? []).find((j) => j.jobName === input.jobName && j.jobId);
    if (job) return job.jobId;
  }
  return undefined;
}

/** SubmitJob without the SDK's retries (they could create the job twice). */
function submitOnce(client: BatchClient, input: SubmitJobCommandInput, requestTimeout: number) {
  const command = new SubmitJobCommand(input);
  command.middlewareStack.add((next) => (args) => next(args), retryMiddlewareOptions);
  return client.send(command, { requestTimeout });
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * Submit `input` once: throttled through the limiter, retried with backoff, and after an unknown outcome
 * looked up by name before being sent again, so that a lost response never makes a second job. See the
 * module's description.
 */
export async function submitIdempotent(client: BatchClient, input: SubmitJobCommandInput, options: SubmitIdempotentOptions = {}): Promise<SubmitOutcome> {
  if (!input.jobName || !input.jobQueue) throw new Error(`SubmitJob needs a jobName and a jobQueue (got '${input.jobName ?? ''}' in '${input.jobQueue ?? ''}')`);
  const limiter = options.limiter === undefined ? sharedSubmitLimiter() : options.limiter;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const base = options.baseDelayMs ?? 200;
  const cap = options.maxDelayMs ?? 20_000;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const findExisting = options.findExisting ?? (() => findJobByName(client, input));
  const started = now();
  let attempts = 0;
  let throttled = 0;
  let failures = 0;
  let unknown = false;
  let lastError: unknown;

  const backoff = async () => {
    const ms = random() * Math.min(cap, base * 2 ** Math.min(failures, 30));
    failures++;
    const left = started + timeoutMs - now();
    if (left <= 0) return false;
    await sleep(Math.min(ms, left));
    return true;
  };
  const giveUp = () =>
    new BatchSubmitError(
      input.jobName!,
      `SubmitJob of '${input.jobName}' in queue '${input.jobQueue}' gave up after ${attempts} calls in ${Math.round((now() - started) / 1000)} s (${throttled} throttled${unknown ? '; the last outcome is unknown: the job may exist' : ''}); last error: ${errorText(lastError)}`,
      { cause: lastError },
    );

  for (;;) {
    if (now() - started >= timeoutMs) throw giveUp();
    if (unknown) {
      // A call before may have created the job: look for it before sending again.
      try {
        const jobId = await findExisting();
        if (jobId) return { jobId, attempts, throttled, found: true };
        unknown = false;
      } catch (e) {
        if (classifySubmitError(e) === 'refused') throw e;
        lastError = e;
        if (!(await backoff())) throw giveUp();
        continue;
      }
    }
    await limiter?.take();
    attempts++;
    try {
      const out = await submitOnce(client, input, requestTimeout);
      if (!out.jobId) throw new Error(`SubmitJob returned no jobId for '${input.jobName}'`);
      return { jobId: out.jobId, attempts, throttled, found: false };
    } catch (e) {
      lastError = e;
      const outcome = classifySubmitError(e);
      if (outcome === 'refused') throw e;
      if (outcome === 'throttled') throttled++;
      else unknown = true;
      if (!(await backoff())) throw giveUp();
    }
  }
}
