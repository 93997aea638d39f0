/**
 * The task runner's steps of a human-in-the-loop try on the `hitl` machine (lib/compiler/hitl-lifecycle.ts):
 * `hitl_prepare` runs the try (its request written, the instance deferred) and says how long the machine's
 * `.waitForTaskToken` state waits; `hitl_token` stores that state's token on the request (the API's
 * answer sends it back: SendTaskSuccess), sending it at once when the answer came first; `hitl_complete`
 * and `hitl_timeout` resume the deferred try (with the answer, or with what the timeout takes) and run it
 * to its end in the same invocation, reported.
 */
import type { TryResult } from '../core/events.ts';
import { nextFromInstance, type LifecycleCaller } from '../core/lifecycle.ts';
import { HITL_MAX_WAIT_SECONDS } from '../compiler/hitl-lifecycle.ts';
import type { HitlPrepareOutput } from '../compiler/contract.ts';
import type { TaskRunner } from '../executor/task-runner.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { taskSuccessOutput } from '../scheduler/hitl.ts';
import type { TiKey } from '../store/records.ts';
import type { Dispatcher, InvocationHost } from './invocation-host.ts';
import type { LifecycleNext } from './lifecycle.ts';
import type { AwsServices } from './services.ts';

/** What a hitl step needs of the task runner function's invocation. */
export interface HitlStepTools {
  svc: AwsServices;
  runner: TaskRunner;
  /** A scheduler and its host for one step, `caller` the lifecycle whose own next action the host keeps. */
  scheduler(svc: AwsServices, caller: LifecycleCaller | null): { scheduler: Scheduler; host: InvocationHost };
  /** Report a try's result and carry out what the scheduler decided (the handler's). */
  report(key: TiKey, tryNumber: number, result: TryResult | null): Promise<LifecycleNext>;
  now(): number;
  signal?: AbortSignal;
}

export type HitlStepRequest =
  | { mode: 'hitl_prepare'; key: TiKey; tryNumber: number }
  | { mode: 'hitl_token'; key: TiKey; tryNumber: number; token: string }
  | { mode: 'hitl_complete'; key: TiKey; tryNumber: number }
  | { mode: 'hitl_timeout'; key: TiKey; tryNumber: number };

/** How many whole seconds the machine waits for an answer to a request timing out at `timeoutAt` (null: none). */
export function hitlWaitSeconds(timeoutAt: string | null, now: number): number {
  if (timeoutAt === null) return HITL_MAX_WAIT_SECONDS;
  // Rounded up (the state never times out before the request does), at least Step Functions' 1 s.
  return Math.min(HITL_MAX_WAIT_SECONDS, Math.max(1, Math.ceil((Date.parse(timeoutAt) - now) / 1000)));
}

/**
 * A dispatcher that does not start the `hitl_timeout` timer of `key`'s try `tryNumber`: deployed, the
 * machine's wait times out itself (`TimeoutSecondsPath`, then `hitl_timeout`), so no timer execution is
 * needed beside it. Everything else goes on to `inner`.
 */
function withoutOwnTimeout(inner: Dispatcher, key: TiKey, tryNumber: number): Dispatcher {
  const own = (e: { type: string; key?: TiKey; tryNumber?: number }) =>
    e.type === 'hitl_timeout' && e.tryNumber === tryNumber && e.key !== undefined && e.key.dagId === key.dagId && e.key.runId === key.runId && e.key.taskId === key.taskId && e.key.mapIndex === key.mapIndex;
  const d: Dispatcher = {
    startLifecycle: (ti, dag) => inner.startLifecycle(ti, dag),
    startTimer: (at, event) => (own(event) ? Promise.resolve() : inner.startTimer(at, event)),
    startArrayWaves: (waves, dag) => inner.startArrayWaves(waves, dag),
  };
  if (inner.sendTaskSuccess) d.sendTaskSuccess = (token, output) => inner.sendTaskSuccess!(token, output);
  return d;
}

/** One hitl step of the task runner function (see the file header). */
export async function handleHitlStep(req: HitlStepRequest, t: HitlStepTools): Promise<LifecycleNext | HitlPrepareOutput> {
  const { svc } = t;
  switch (req.mode) {
    case 'hitl_prepare': {
      // The try runs (request written, deferred) and is reported by a host whose timer of the request's
      // timeout is the machine's own wait.
      const own = t.scheduler({ ...svc, dispatcher: withoutOwnTimeout(svc.dispatcher, req.key, req.tryNumber) }, null);
      const result = await t.runner.run(req.key, req.tryNumber, t.signal);
      if (result) await own.host.run(own.scheduler.handleTryResult(req.key, req.tryNumber, result));
      await own.host.flush();
      const ti = await svc.store.getTaskInstance(req.key);
      // Ended here (answered before it deferred, failed), or not this try's any more: nothing to wait for.
      if (ti?.state !== 'deferred' || ti.tryNumber !== req.tryNumber) return { wait: null };
      const rec = await svc.store.getHitlRequest(req.key);
      if (!rec || rec.tryNumber !== req.tryNumber) return { wait: null };
      return { wait: { timeoutSeconds: hitlWaitSeconds(rec.timeoutAt, t.now()) } };
    }
    case 'hitl_token': {
      if (await svc.store.setHitlTaskToken(req.key, req.tryNumber, req.token)) return { action: 'done' };
      // Not stored: answered already (the answer found no token to send), or the request is gone.
      const rec = await svc.store.getHitlRequest(req.key);
      if (rec?.tryNumber === req.tryNumber && rec.response !== null) {
        if (!svc.dispatcher.sendTaskSuccess) throw new Error('the task runner cannot send a task token back: its dispatcher has no sendTaskSuccess');
        await svc.dispatcher.sendTaskSuccess(req.token, taskSuccessOutput(rec, rec.response));
      }
      // Otherwise the wait times out, and hitl_timeout finds nothing to do.
      return { action: 'done' };
    }
    case 'hitl_complete':
    case 'hitl_timeout': {
      // Resume the deferred try (the answer stored; or the timeout's take stored first), keeping its
      // dispatch: the try runs to its end here, in this invocation.
      const caller: LifecycleCaller = { instance: req.key };
      const own = t.scheduler(svc, caller);
      const step = req.mode === 'hitl_complete' ? own.scheduler.resumeDeferred(req.key, req.tryNumber) : own.scheduler.onTimer({ type: 'hitl_timeout', key: req.key, tryNumber: req.tryNumber });
      await own.host.run(step);
      const next = (await own.host.flush()) ?? nextFromInstance(await svc.store.getTaskInstance(req.key));
      if (next.action !== 'run' || next.tryNumber !== req.tryNumber) return { action: 'done' };
      const result = await t.runner.run(req.key, req.tryNumber, t.signal);
      return t.report(req.key, req.tryNumber, result);
    }
  }
}
