// Human-in-the-loop: an answer to a request (`Scheduler.respondHitl`) and a request's timeout (the
// `hitl_timeout` timer). Both store the answer exactly once (a conditional write on "no answer yet") and
// then let the deferred try go on: locally it is resumed (`resumeDeferred`); deployed, when the request
// holds its wait's task token, a `sendTaskSuccess` effect hands the answer to the waiting state machine.

import { checkHitlAnswer, closedResponse, mayAnswer, timeoutResponse, type HitlResponse } from '../core/hitl.ts';
import type { TimerEvent } from '../core/events.ts';
import { tiKeyOf, type TiKey } from '../model/keys.ts';
import { iso } from '../model/time.ts';
import type { HitlRecord } from '../store/hitl-records.ts';
import type { TaskInstanceRecord } from '../store/records.ts';
import type { StateStore } from '../store/state-store.ts';
import { OperationError } from './operation-error.ts';
import type { Step } from './step.ts';
import { resumeDeferred } from './tries.ts';

/** An answer as a caller gives it: the options chosen, a form's values, and who answers (null: unknown). */
export interface HitlAnswerInput {
  chosenOptions: readonly string[];
  paramsInput?: Record<string, unknown>;
  user: string | null;
}

/**
 * An answer refused, with what an HTTP API answers for it: 400 a bad option or field (`field` names it:
 * `chosen_options`, `params_input.<name>`), 403 a user not assigned, 404 no request, 409 answered already
 * (naming who and when) or no longer waiting.
 */
export class HitlResponseError extends OperationError {
  override name = 'HitlResponseError';
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    detail: string,
    readonly field: string | null = null,
  ) {
    super(detail);
  }
}

const where = (k: TiKey) => `task '${k.taskId}'${k.mapIndex >= 0 ? ` [${k.mapIndex}]` : ''} of run '${k.runId}' of DAG '${k.dagId}'`;

/** Who gave the stored answer, and when, in words. */
export function answeredBy(r: HitlResponse): string {
  if (r.closed !== undefined) return `closed without an answer at ${r.respondedAt} (${r.closed})`;
  return r.timedOut ? `the timeout took ${r.chosenOptions.length ? 'the defaults' : 'no answer'} at ${r.respondedAt}` : `answered by ${r.respondedBy ?? 'an unknown user'} at ${r.respondedAt}`;
}

/** The output a deployed wait gets (SendTaskSuccess): the answer as JSON. */
export function taskSuccessOutput(rec: HitlRecord, response: HitlResponse): string {
  return JSON.stringify({ dagId: rec.dagId, runId: rec.runId, taskId: rec.taskId, mapIndex: rec.mapIndex, tryNumber: rec.tryNumber, response });
}

export async function respondHitl(s: Step, key: TiKey, answer: HitlAnswerInput): Promise<HitlRecord> {
  const { ti, run } = await s.store.getTaskInstanceAndRun(key);
  if (!run) throw new HitlResponseError(404, `no run '${key.runId}' of DAG '${key.dagId}'`);
  const rec = await s.store.getHitlRequest(key);
  if (!rec || !ti) throw new HitlResponseError(404, `${where(key)} has no human-in-the-loop request`);
  if (rec.response) throw new HitlResponseError(409, `${where(key)} was ${answeredBy(rec.response)}`);
  if (ti.tryNumber !== rec.tryNumber || (ti.state !== 'deferred' && ti.state !== 'running')) {
    // Finished with that try: the request closes, leaving the pending list.
    const why = stoppedWaiting(rec, ti);
    if (why !== null) await s.store.respondHitl(key, rec.tryNumber, closedResponse(why, iso(s.now())));
    throw new HitlResponseError(409, `${where(key)} is not waiting for an answer (it is ${ti.state}, try ${ti.tryNumber}; the request is try ${rec.tryNumber}'s)`);
  }
  if (!mayAnswer(rec, answer.user)) {
    throw new HitlResponseError(403, `${answer.user === null ? 'an unknown user' : `user '${answer.user}'`} may not answer ${where(key)} (assigned: ${rec.assignedTo.join(', ')})`);
  }
  const checked = checkHitlAnswer(rec, { chosenOptions: [...answer.chosenOptions], paramsInput: answer.paramsInput ?? {} });
  if (!checked.ok) throw new HitlResponseError(400, `${where(key)}: ${checked.problem.detail}`, checked.problem.field);
  const response: HitlResponse = { chosenOptions: checked.chosenOptions, paramsInput: checked.paramsInput, respondedBy: answer.user, respondedAt: iso(s.now()), timedOut: false };
  const r = await s.store.respondHitl(key, rec.tryNumber, response);
  const now = r.record ?? rec;
  if (!r.applied) throw new HitlResponseError(409, `${where(key)} was ${now.response ? answeredBy(now.response) : 'answered already'}`);
  await afterAnswer(s, now, response);
  return now;
}

/** The answer is stored: hand it to the deployed wait, or resume the deferred try. */
async function afterAnswer(s: Step, rec: HitlRecord, response: HitlResponse): Promise<void> {
  if (rec.taskToken !== null) {
    s.effects.push({ type: 'sendTaskSuccess', token: rec.taskToken, output: taskSuccessOutput(rec, response) });
    return;
  }
  await resumeDeferred(s, tiKeyOf(rec), rec.tryNumber);
}

/**
 * A request's timeout is due: store what it takes (the defaults with `timedOut`, or, with none, an empty
 * timed-out answer: the try then fails with a HitlTimeoutError), then resume the try. Idempotent: an
 * answer stored first wins, and a resume applies only to a deferred try.
 */
export async function hitlTimeout(s: Step, event: Extract<TimerEvent, { type: 'hitl_timeout' }>): Promise<void> {
  const rec = await s.store.getHitlRequest(event.key);
  if (!rec || rec.tryNumber !== event.tryNumber) return;
  if (rec.response === null) {
    if (rec.timeoutAt !== null && s.now() < Date.parse(rec.timeoutAt)) {
      s.timer(Date.parse(rec.timeoutAt), event);
      return;
    }
    // An instance that stopped waiting (marked, cleared...) takes nothing: the request just closes.
    const why = stoppedWaiting(rec, await s.store.getTaskInstance(event.key));
    await s.store.respondHitl(event.key, event.tryNumber, why === null ? timeoutResponse(rec, iso(s.now())) : closedResponse(why, iso(s.now())));
  }
  await resumeDeferred(s, event.key, event.tryNumber);
}

/** After a hitl try deferred: answered already (an answer that came while it ran), resume it. */
export async function resumeIfAnswered(s: Step, key: TiKey, tryNumber: number): Promise<void> {
  const rec = await s.store.getHitlRequest(key);
  if (rec?.tryNumber === tryNumber && rec.response !== null) await resumeDeferred(s, key, tryNumber);
}

/**
 * Why a request's instance will never take its answer (null while it may): it is at a later try, or it
 * finished the request's try (marked, failed or skipped with its run, up for retry, removed), or it is gone.
 */
export function stoppedWaiting(rec: HitlRecord, ti: TaskInstanceRecord | undefined): string | null {
  if (!ti) return 'its task instance no longer exists';
  if (ti.tryNumber !== rec.tryNumber) return `its task instance is at try ${ti.tryNumber} (${ti.state})`;
  if (['success', 'failed', 'skipped', 'upstream_failed', 'removed', 'up_for_retry'].includes(ti.state)) return `its task instance is ${ti.state}`;
  return null;
}

/**
 * Close the unanswered requests among `records` whose instances stopped waiting for them (whatever moved
 * the instance: a mark, a clear, its run's end), so that they leave the pending list and say why. The
 * listing and reading of requests do this as they go, so no path that moves an instance has to. Each close
 * is conditional on no answer (an answer stored first wins). Returns how many it closed.
 */
export async function closeStaleHitlRequests(store: StateStore, records: readonly HitlRecord[], now: number): Promise<number> {
  const open = records.filter((r) => r.response === null);
  const tis = await Promise.all(open.map((r) => store.getTaskInstance(tiKeyOf(r))));
  let closed = 0;
  for (const [i, rec] of open.entries()) {
    const why = stoppedWaiting(rec, tis[i]);
    if (why !== null && (await store.respondHitl(tiKeyOf(rec), rec.tryNumber, closedResponse(why, iso(now)))).applied) closed++;
  }
  return closed;
}
