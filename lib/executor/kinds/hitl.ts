import { isRejection, timeoutResponse } from '../../core/hitl.ts';
import { MessageTemplate } from '../../core/notify-template.ts';
import { HitlRejectedError, HitlTimeoutError } from '../../errors.ts';
import { tiKeyOf } from '../../model/keys.ts';
import type { HitlTaskSpec } from '../../model/spec.ts';
import { iso } from '../../model/time.ts';
import type { HitlRecord } from '../../store/hitl-records.ts';
import type { DagRunRecord, TaskInstanceRecord } from '../../store/records.ts';
import type { KindRunner } from './kind-runner.ts';

/** The request of a try: subject and body rendered with the run's and the instance's placeholders. */
export function hitlRequestOf(spec: HitlTaskSpec, run: DagRunRecord, ti: TaskInstanceRecord, now: number): HitlRecord {
  const h = spec.hitl;
  const ctx = {
    event: 'success' as const,
    dagId: run.dagId,
    runId: run.runId,
    logicalDate: run.logicalDate,
    state: ti.state,
    // `{{ conf.<key> }}` sees the run's params (defaults filled in) over its conf.
    conf: { ...run.conf, ...run.params },
    exception: null,
    ti: { taskId: ti.taskId, mapIndex: ti.mapIndex, tryNumber: ti.tryNumber },
    deadline: null,
  };
  return {
    dagId: ti.dagId,
    runId: ti.runId,
    taskId: ti.taskId,
    mapIndex: ti.mapIndex,
    tryNumber: ti.tryNumber,
    subject: MessageTemplate.parse(h.subject).render(ctx),
    body: h.body === null ? null : MessageTemplate.parse(h.body).render(ctx),
    options: [...h.options],
    multiple: h.multiple,
    defaults: h.defaults === null ? null : [...h.defaults],
    params: h.params === null ? null : structuredClone(h.params),
    assignedTo: [...h.assignedTo],
    createdAt: iso(now),
    timeoutAt: h.timeoutMs === null ? null : iso(now + h.timeoutMs),
    taskToken: null,
    response: null,
  };
}

const deferUntil = (rec: HitlRecord) => ({ kind: 'defer' as const, until: rec.timeoutAt === null ? null : Date.parse(rec.timeoutAt) });

/**
 * `approval()`, `hitlChoice()`, `hitlForm()`: the first step of a try writes its request (create-if-absent,
 * so a repeated start finds it) and defers, holding nothing (a timer at the timeout, when there is one);
 * resumed with the answer (`Scheduler.respondHitl`, or the defaults at the timeout) it succeeds with the
 * answer as its result. An approval's reject succeeds and skips the direct downstream tasks (as a
 * short-circuit does), or fails with `failOnReject`; a timeout without defaults fails the try.
 */
export const hitlRunner: KindRunner<HitlTaskSpec> = {
  runsCode: false,
  async runTry({ run, spec, ti }, tools) {
    const key = tiKeyOf(ti);
    let rec = await tools.io.getHitlRequest(key);
    if (!rec || rec.tryNumber < ti.tryNumber) {
      const fresh = hitlRequestOf(spec, run, ti, tools.now());
      await tools.io.putHitlRequest(fresh);
      rec = (await tools.io.getHitlRequest(key)) ?? fresh;
      const answerable = rec.assignedTo.length ? ` by ${rec.assignedTo.join(', ')}` : '';
      tools.write('info', `waiting for an answer${answerable} to "${rec.subject}" (options: ${rec.options.join(', ')})${rec.timeoutAt ? `, until ${rec.timeoutAt}` : ''}`);
      return deferUntil(rec);
    }
    if (rec.response === null) {
      // Resumed with no answer: past the timeout (a timer delivered late, or as a plain resume), take it now.
      if (rec.timeoutAt === null || tools.now() < Date.parse(rec.timeoutAt)) return deferUntil(rec);
      rec = (await tools.io.respondHitl(key, ti.tryNumber, timeoutResponse(rec, iso(tools.now())))).record ?? rec;
      if (rec.response === null) return deferUntil(rec);
    }
    const answer = rec.response;
    if (answer.timedOut && rec.defaults === null) {
      throw new HitlTimeoutError(`no answer to "${rec.subject}" before its timeout (${rec.timeoutAt ?? '?'}), and no defaults to take`);
    }
    const who = answer.timedOut ? 'the timeout took the defaults' : `answered by ${answer.respondedBy ?? 'an unknown user'}`;
    tools.write('info', `${who}: ${answer.chosenOptions.join(', ')}${Object.keys(answer.paramsInput).length ? ` ${JSON.stringify(answer.paramsInput)}` : ''}`);
    if (isRejection(spec.hitl, answer)) {
      if (spec.hitl.failOnReject) throw new HitlRejectedError(`"${rec.subject}" was rejected (${who})`);
      await tools.storeResult(answer);
      tools.write('info', 'rejected: skipping the downstream tasks');
      return { kind: 'success', shortCircuit: false };
    }
    await tools.storeResult(answer);
    return { kind: 'success' };
  },
};
