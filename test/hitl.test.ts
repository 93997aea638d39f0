// Human-in-the-loop tasks through the LocalRunner on a FakeClock: the real scheduler, task runner and
// stores; answers given as a person would (when the instance is seen deferred), timeouts skipped to.
import { describe, expect, it } from 'vitest';
import { approval, dag, hitlChoice, hitlForm, task, type HitlAnswer } from '../lib/index.ts';
import { tiKeyOf, type TiKey } from '../lib/model/keys.ts';
import type { LocalRunner } from '../lib/runner/local-runner.ts';
import type { HitlAnswerInput } from '../lib/scheduler/hitl.ts';
import { HitlResponseError } from '../lib/scheduler/hitl.ts';
import { markTaskInstances } from '../lib/scheduler/operations.ts';
import type { HitlRecord } from '../lib/store/hitl-records.ts';
import { errorText, fakeRunner, localStores, states, tries } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 1);

/** Answer each request of `taskId` when its instance defers (per try: `answers[try - 1]`, or the last one). */
function answerWhenAsked(runner: LocalRunner, taskId: string, answers: (HitlAnswerInput | null)[]): { refused: unknown[]; answered: HitlRecord[] } {
  const out = { refused: [] as unknown[], answered: [] as HitlRecord[] };
  runner.on((e) => {
    if (e.type !== 'ti' || e.ti.taskId !== taskId || e.ti.state !== 'deferred') return;
    const a = answers[Math.min(e.ti.tryNumber, answers.length) - 1];
    if (!a) return;
    runner.respondHitl(tiKeyOf(e.ti), a).then(
      (r) => out.answered.push(r),
      (err: unknown) => out.refused.push(err),
    );
  });
  return out;
}

function releaseDag(options: { failOnReject?: boolean; timeout?: string; defaultOption?: string; retries?: number } = {}) {
  return dag({ dagId: 'release' }, () => {
    const ok = approval('approve', {
      subject: 'Ship {{ run_id }}?',
      body: 'DAG {{ dag_id }}, try {{ ti.try_number }}',
      assignedTo: ['ana', 'bo'],
      ...(options.failOnReject ? { failOnReject: true } : {}),
      ...(options.timeout ? { timeout: options.timeout } : {}),
      ...(options.defaultOption ? { defaultOption: options.defaultOption } : {}),
      ...(options.retries !== undefined ? { retries: options.retries, retryDelay: '1m' } : {}),
    });
    const ship = task('ship', (_ctx, a: HitlAnswer) => `shipped by ${a.respondedBy ?? 'nobody'} (${a.chosenOptions.join()})`);
    const after = task('after_ship', () => 'done');
    ship(ok).before(after);
  });
}

describe.each(localStores())('human-in-the-loop tasks on the %s', (_name, makeStore) => {
  it('an approval waits deferred, holding no slot, then Approve succeeds with the answer as its XCom', async () => {
    const d = releaseDag();
    const r = fakeRunner([d], { store: makeStore(), pools: { default_pool: 1 } });
    const run = await r.trigger({ dagId: 'release', runId: 'r1' });
    await r.idle();
    const key: TiKey = { dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 };
    expect((await r.store.getTaskInstance(key))?.state).toBe('deferred');
    // The deferred instance holds no pool slot: the pool of one is free.
    expect([...(await r.store.semaphoreHolders('pool:default_pool')).keys()]).toStrictEqual([]);
    const req = await r.store.getHitlRequest(key);
    expect(req).toMatchObject({ subject: 'Ship r1?', body: 'DAG release, try 1', options: ['Approve', 'Reject'], assignedTo: ['ana', 'bo'], tryNumber: 1, timeoutAt: null, response: null, taskToken: null });
    expect((await r.store.listHitlRequests({ pending: true, limit: 10 })).records.map((x) => x.taskId)).toStrictEqual(['approve']);

    const answered = await r.respondHitl(key, { chosenOptions: ['Approve'], user: 'ana' });
    expect(answered.response).toStrictEqual({ chosenOptions: ['Approve'], paramsInput: {}, respondedBy: 'ana', respondedAt: new Date(T0).toISOString(), timedOut: false });
    await r.waitForRun(run);
    const report = await r.report(run);
    expect(states(report)).toStrictEqual({ approve: 'success', ship: 'success', after_ship: 'success' });
    expect((await r.store.getXCom(run, 'approve', -1, 'return_value'))?.value).toStrictEqual(answered.response);
    expect((await r.store.getXCom(run, 'ship', -1, 'return_value'))?.value).toBe('shipped by ana (Approve)');
    expect((await r.store.listHitlRequests({ pending: true, limit: 10 })).total).toBe(0);
    expect((await r.store.listHitlRequests({ pending: false, limit: 10 })).records.map((x) => x.response?.respondedBy)).toStrictEqual(['ana']);

    // Answered twice: the second is refused (409), naming who answered and when.
    const again = await r.respondHitl(key, { chosenOptions: ['Reject'], user: 'bo' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(HitlResponseError);
    expect(again).toMatchObject({ status: 409, message: `task 'approve' of run 'r1' of DAG 'release' was answered by ana at ${new Date(T0).toISOString()}` });
    r.close();
  });

  it('Reject succeeds and skips the direct downstream tasks (as a short-circuit does)', async () => {
    const r = fakeRunner([releaseDag()], { store: makeStore() });
    answerWhenAsked(r, 'approve', [{ chosenOptions: ['Reject'], user: 'bo' }]);
    const report = await r.run({ dagId: 'release', runId: 'r1' });
    expect(report.state).toBe('success');
    expect(states(report)).toStrictEqual({ approve: 'success', ship: 'skipped', after_ship: 'skipped' });
    expect(errorText((await r.store.getTaskInstance({ dagId: 'release', runId: 'r1', taskId: 'ship', mapIndex: -1 }))?.error)).toBe("short-circuited by 'approve'");
    r.close();
  });

  it('Reject with failOnReject fails the task (its downstream upstream_failed)', async () => {
    const r = fakeRunner([releaseDag({ failOnReject: true })], { store: makeStore() });
    answerWhenAsked(r, 'approve', [{ chosenOptions: ['Reject'], user: 'bo' }]);
    const report = await r.run({ dagId: 'release', runId: 'r1' });
    expect(report.state).toBe('failed');
    expect(states(report)).toStrictEqual({ approve: 'failed', ship: 'upstream_failed', after_ship: 'upstream_failed' });
    expect(errorText((await r.store.getTaskInstance({ dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 }))?.error)).toBe('HitlRejectedError: "Ship r1?" was rejected (answered by bo)');
    r.close();
  });

  it('a timeout with a default takes it (timedOut, answered by nobody); a late answer is refused', async () => {
    const r = fakeRunner([releaseDag({ timeout: '2h', defaultOption: 'Approve' })], { store: makeStore() });
    const report = await r.run({ dagId: 'release', runId: 'r1' });
    expect(states(report)).toStrictEqual({ approve: 'success', ship: 'success', after_ship: 'success' });
    const key = { dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 };
    const at = new Date(T0 + 2 * 3_600_000).toISOString();
    expect((await r.store.getHitlRequest(key))?.response).toStrictEqual({ chosenOptions: ['Approve'], paramsInput: {}, respondedBy: null, respondedAt: at, timedOut: true });
    expect((await r.store.getXCom(report, 'ship', -1, 'return_value'))?.value).toBe('shipped by nobody (Approve)');
    await expect(r.respondHitl(key, { chosenOptions: ['Reject'], user: 'ana' })).rejects.toMatchObject({ status: 409, message: `task 'approve' of run 'r1' of DAG 'release' was the timeout took the defaults at ${at}` });
    r.close();
  });

  it('an instance marked success while it waits: its timeout takes nothing, the request closes saying why', async () => {
    const r = fakeRunner([releaseDag({ timeout: '2h', defaultOption: 'Approve' })], { store: makeStore() });
    // Marked as a person would, when the instance is seen deferred.
    const marking: { done: Promise<unknown> | null } = { done: null };
    r.on((e) => {
      if (e.type === 'ti' && e.ti.taskId === 'approve' && e.ti.state === 'deferred') marking.done ??= r.drive((s) => markTaskInstances(s, { dagId: 'release', runId: 'r1', taskId: 'approve', state: 'success' }));
    });
    const key = { dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 };
    const report = await r.run({ dagId: 'release', runId: 'r1' });
    expect(marking.done).not.toBeNull();
    await marking.done;
    // The request's timeout: locally a run's timers go when it ends; deployed, the hitl machine's wait
    // times out by itself and delivers it, as here.
    r.clock.advance(2 * 3_600_000);
    await r.drive((s) => s.onTimer({ type: 'hitl_timeout', key, tryNumber: 1 }));
    // Marked, the instance has no answer to pass on (ship, which takes it, fails as without an XCom).
    expect(states(report).approve).toBe('success');
    const at = new Date(T0 + 2 * 3_600_000).toISOString();
    expect((await r.store.getHitlRequest(key))?.response).toStrictEqual({ chosenOptions: [], paramsInput: {}, respondedBy: null, respondedAt: at, timedOut: false, closed: 'its task instance is success' });
    expect((await r.store.listHitlRequests({ pending: true, limit: 10 })).total).toBe(0);
    await expect(r.respondHitl(key, { chosenOptions: ['Reject'], user: 'ana' })).rejects.toMatchObject({ status: 409, message: `task 'approve' of run 'r1' of DAG 'release' was closed without an answer at ${at} (its task instance is success)` });
    r.close();
  });

  it('a timeout without a default fails the try (HitlTimeoutError); its retry asks again, and its answer counts', async () => {
    const r = fakeRunner([releaseDag({ timeout: '30m', retries: 1 })], { store: makeStore() });
    // Nobody answers the first try's request; the second try's is approved.
    const seen = answerWhenAsked(r, 'approve', [null, { chosenOptions: ['Approve'], user: 'ana' }]);
    const report = await r.run({ dagId: 'release', runId: 'r1' });
    expect(states(report)).toStrictEqual({ approve: 'success', ship: 'success', after_ship: 'success' });
    expect(tries(report).approve).toBe(2);
    expect(seen.answered.map((a) => a.tryNumber)).toStrictEqual([2]);
    const ti = await r.store.getTaskInstance({ dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 });
    expect(errorText(ti?.history?.[0]?.error)).toMatch(/^HitlTimeoutError: no answer to "Ship r1\?" before its timeout \(2026-01-01T00:30:00.000Z\), and no defaults to take/);
    const all = await r.store.listHitlRequests({ dagId: 'release', runId: 'r1', limit: 10 });
    expect(all.records.map((x) => [x.tryNumber, x.response?.timedOut, x.response?.chosenOptions])).toStrictEqual([
      [2, false, ['Approve']],
      [1, true, []],
    ]);
    r.close();
  });

  it('a timeout without a default and no retries fails the run', async () => {
    const r = fakeRunner([releaseDag({ timeout: '30m' })], { store: makeStore() });
    const report = await r.run({ dagId: 'release', runId: 'r1' });
    expect(report.state).toBe('failed');
    expect(states(report)).toStrictEqual({ approve: 'failed', ship: 'upstream_failed', after_ship: 'upstream_failed' });
    r.close();
  });

  it('refuses a wrong option (400 naming chosen_options), an unassigned user (403), and leaves the request pending', async () => {
    const r = fakeRunner([releaseDag()], { store: makeStore() });
    await r.trigger({ dagId: 'release', runId: 'r1' });
    await r.idle();
    const key = { dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 };
    await expect(r.respondHitl(key, { chosenOptions: ['Maybe'], user: 'ana' })).rejects.toMatchObject({
      status: 400,
      field: 'chosen_options',
      message: `task 'approve' of run 'r1' of DAG 'release': "Maybe" is not an option (options: 'Approve', 'Reject')`,
    });
    await expect(r.respondHitl(key, { chosenOptions: ['Approve', 'Reject'], user: 'ana' })).rejects.toMatchObject({ status: 400, field: 'chosen_options' });
    await expect(r.respondHitl(key, { chosenOptions: ['Approve'], user: 'eve' })).rejects.toMatchObject({
      status: 403,
      message: "user 'eve' may not answer task 'approve' of run 'r1' of DAG 'release' (assigned: ana, bo)",
    });
    await expect(r.respondHitl(key, { chosenOptions: ['Approve'], user: null })).rejects.toMatchObject({ status: 403 });
    await expect(r.respondHitl({ ...key, taskId: 'ship' }, { chosenOptions: ['Approve'], user: 'ana' })).rejects.toMatchObject({ status: 404 });
    expect((await r.store.getHitlRequest(key))?.response).toBeNull();
    expect((await r.store.getTaskInstance(key))?.state).toBe('deferred');
    r.close();
  });

  it('a form checks its values against the fields\' schemas and fills in the defaults', async () => {
    const d = dag({ dagId: 'form' }, () => {
      const f = hitlForm('details', {
        subject: 'Release notes',
        params: { version: { type: 'string', pattern: '^v\\d+$' }, replicas: { type: 'integer', minimum: 1, default: 2 } },
      });
      task('use', (_ctx, a: HitlAnswer) => a.paramsInput)(f);
    });
    const r = fakeRunner([d], { store: makeStore() });
    await r.trigger({ dagId: 'form', runId: 'r1' });
    await r.idle();
    const key = { dagId: 'form', runId: 'r1', taskId: 'details', mapIndex: -1 };
    await expect(r.respondHitl(key, { chosenOptions: ['OK'], paramsInput: { version: '1.0' }, user: null })).rejects.toMatchObject({
      status: 400,
      field: 'params_input.version',
      message: `task 'details' of run 'r1' of DAG 'form': field 'version' = "1.0" is invalid: value must match pattern "^v\\d+$"`,
    });
    await expect(r.respondHitl(key, { chosenOptions: ['OK'], paramsInput: {}, user: null })).rejects.toMatchObject({ status: 400, field: 'params_input.version', message: expect.stringContaining("field 'version' is required") });
    await expect(r.respondHitl(key, { chosenOptions: ['OK'], paramsInput: { version: 'v2', color: 'red' }, user: null })).rejects.toMatchObject({ status: 400, field: 'params_input.color' });
    await r.respondHitl(key, { chosenOptions: ['OK'], paramsInput: { version: 'v2' }, user: null });
    const run = await r.waitForRun({ dagId: 'form', runId: 'r1' });
    expect(run.state).toBe('success');
    expect((await r.store.getXCom(run, 'use', -1, 'return_value'))?.value).toStrictEqual({ version: 'v2', replicas: 2 });
    r.close();
  });

  it('a choice allows several options when multiple (each once, in the order given)', async () => {
    const d = dag({ dagId: 'choice' }, () => {
      const c = hitlChoice('pick', { subject: 'Regions for {{ conf.app }}', options: ['eu', 'us', 'ap'], multiple: true });
      task('use', (_ctx, a: HitlAnswer) => a.chosenOptions)(c);
    });
    const r = fakeRunner([d], { store: makeStore() });
    answerWhenAsked(r, 'pick', [{ chosenOptions: ['us', 'eu', 'us'], user: 'x' }]);
    const report = await r.run({ dagId: 'choice', runId: 'r1', conf: { app: 'shop' } });
    expect(report.state).toBe('success');
    expect((await r.store.getXCom(report, 'use', -1, 'return_value'))?.value).toStrictEqual(['us', 'eu']);
    expect((await r.store.getHitlRequest({ dagId: 'choice', runId: 'r1', taskId: 'pick', mapIndex: -1 }))?.subject).toBe('Regions for shop');
    r.close();
  });

  it('clearing an answered hitl task asks again (a new try, a new request)', async () => {
    const { clearTaskInstances } = await import('../lib/scheduler/operations.ts');
    const r = fakeRunner([releaseDag()], { store: makeStore() });
    answerWhenAsked(r, 'approve', [{ chosenOptions: ['Approve'], user: 'ana' }, { chosenOptions: ['Reject'], user: 'bo' }]);
    const report = await r.run({ dagId: 'release', runId: 'r1' });
    expect(states(report).ship).toBe('success');
    await r.driven.run(clearTaskInstances(r.scheduler, { dagId: 'release', runId: 'r1', taskIds: ['approve', 'ship', 'after_ship'] }));
    await r.waitForRun({ dagId: 'release', runId: 'r1' });
    await r.idle();
    const after = await r.report({ dagId: 'release', runId: 'r1' });
    expect(states(after)).toStrictEqual({ approve: 'success', ship: 'skipped', after_ship: 'skipped' });
    expect((await r.store.getHitlRequest({ dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 }))).toMatchObject({ tryNumber: 2, response: { chosenOptions: ['Reject'], respondedBy: 'bo' } });
    r.close();
  });

  it('the reconcile resumes a try whose answer was stored but whose resume was lost', async () => {
    const r = fakeRunner([releaseDag()], { store: makeStore() });
    await r.trigger({ dagId: 'release', runId: 'r1' });
    await r.idle();
    const key = { dagId: 'release', runId: 'r1', taskId: 'approve', mapIndex: -1 };
    // The answer written as respondHitl writes it, and then nothing (the process died before the resume).
    expect((await r.store.respondHitl(key, 1, { chosenOptions: ['Approve'], paramsInput: {}, respondedBy: 'ana', respondedAt: new Date(T0).toISOString(), timedOut: false })).applied).toBe(true);
    expect((await r.store.getTaskInstance(key))?.state).toBe('deferred');
    const report = await r.driven.run(r.scheduler.reconcileRun({ dagId: 'release', runId: 'r1' }, { staleMs: 60_000 }));
    expect(report.resumed).toBe(1);
    const run = await r.waitForRun({ dagId: 'release', runId: 'r1' });
    expect(states(await r.report(run))).toStrictEqual({ approve: 'success', ship: 'success', after_ship: 'success' });
    r.close();
  });
});
