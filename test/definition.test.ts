import { describe, expect, it } from 'vitest';
import { dag, task, sensor, empty, DagCycleError, DagDefinitionError, ParamValidationError } from '../lib/index.ts';
import { fakeRunner } from './helpers.ts';

const solver = dag(
  {
    dagId: 'params_dag',
    params: {
      nchan: { type: 'integer', default: 10, minimum: 1 },
      failure_rate: { type: 'number', default: 0.1, minimum: 0, maximum: 1 },
      mode: { type: 'string', enum: ['fast', 'accurate'], default: 'fast' },
    },
    strictConf: true,
  },
  ({ task }) => {
    task('show', (ctx) => ({ nchan: ctx.params.nchan + 0, rate: ctx.params.failure_rate, mode: ctx.params.mode }));
  },
);

describe('params', () => {
  it('defaults apply and conf overrides them', async () => {
    const r = fakeRunner([solver]);
    const a = await r.run({ dagId: 'params_dag' });
    expect((await r.store.getXCom(a, 'show', -1, 'return_value'))?.value).toEqual({ nchan: 10, rate: 0.1, mode: 'fast' });
    const b = await r.run({ dagId: 'params_dag', runId: 'b', conf: { nchan: 3, mode: 'accurate' } });
    expect((await r.store.getXCom(b, 'show', -1, 'return_value'))?.value).toEqual({ nchan: 3, rate: 0.1, mode: 'accurate' });
  });

  it.each([
    [{ nchan: 0 }, `DAG 'params_dag', field 'params.nchan': param 'nchan' = 0 is invalid: value must be >= 1`],
    [{ nchan: 2.5 }, `DAG 'params_dag', field 'params.nchan': param 'nchan' = 2.5 is invalid: value must be integer`],
    [{ failure_rate: 2 }, `DAG 'params_dag', field 'params.failure_rate': param 'failure_rate' = 2 is invalid: value must be <= 1`],
    [{ mode: 'slow' }, `DAG 'params_dag', field 'params.mode': param 'mode' = "slow" is invalid: value must be equal to one of the allowed values`],
    [{ nchann: 3 }, `DAG 'params_dag', field 'conf.nchann': conf key 'nchann' is not a param of this DAG (params: nchan, failure_rate, mode)`],
  ])('conf %j is refused with the schema message, and no run is created', async (conf, message) => {
    const r = fakeRunner([solver]);
    const err = await r.trigger({ dagId: 'params_dag', conf, runId: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParamValidationError);
    expect((err as Error).message).toBe(message);
    expect(await r.store.getRun({ dagId: 'params_dag', runId: 'x' })).toBeUndefined();
  });

  it('without strictConf, conf keys that are not params are kept in the conf (ctx.conf) and left out of ctx.params', async () => {
    const loose = dag({ dagId: 'loose_conf', params: { nchan: { type: 'integer', default: 10, minimum: 1 } } }, ({ task }) => {
      task('show', (ctx) => ({ params: ctx.params, conf: ctx.conf }));
    });
    expect(loose.spec.strictConf).toBeUndefined();
    const r = fakeRunner([loose]);
    const run = await r.run({ dagId: 'loose_conf', conf: { nchan: 3, calibrator: '3C286' } });
    expect(run.state).toBe('success');
    expect((await r.store.getXCom(run, 'show', -1, 'return_value'))?.value).toEqual({ params: { nchan: 3 }, conf: { nchan: 3, calibrator: '3C286' } });
    // Params are still validated.
    const err = await r.trigger({ dagId: 'loose_conf', conf: { nchan: 0, calibrator: 'x' } }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`DAG 'loose_conf', field 'params.nchan': param 'nchan' = 0 is invalid: value must be >= 1`);
    // strictConf is part of the structure (its hash), absent when not set.
    expect(solver.spec.strictConf).toBe(true);
  });

  it('a param default that fails its own schema is a definition error', () => {
    expect(() => dag({ dagId: 'bad_default', params: { n: { type: 'integer', default: 0, minimum: 1 } } }, () => undefined)).toThrow(
      new DagDefinitionError(`default 0 fails its own schema: value must be >= 1`, { dagId: 'bad_default', field: 'params.n' }),
    );
  });
});

describe('DAG definition errors name the DAG, the task and the field', () => {
  const msg = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
    return 'no error';
  };
  it('a cycle, naming it', () => {
    let err: unknown;
    try {
      dag({ dagId: 'cyc' }, () => {
        const a = task('a', () => 1);
        const b = task('b', () => 2).after(a);
        const c = task('c', () => 3).after(b);
        a.after(c);
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DagCycleError);
    expect((err as DagCycleError).message).toBe(`DAG 'cyc': cycle detected: a -> b -> c -> a`);
  });
  it('duplicate task ids', () => {
    expect(msg(() => dag({ dagId: 'dup' }, () => { task('a', () => 1); task('a', () => 2); }))).toBe(
      `DagDefinitionError: DAG 'dup', task 'a': duplicate task id 'a'`,
    );
  });
  it('an unknown trigger rule', () => {
    expect(msg(() => dag({ dagId: 'tr' }, () => { task('a', () => 1, { triggerRule: 'all_succes' as never }); }))).toBe(
      `DagDefinitionError: DAG 'tr', task 'a', field 'triggerRule': unknown trigger rule 'all_succes' (known: all_success, all_failed, all_done, all_done_min_one_success, one_success, one_failed, one_done, none_failed, none_failed_min_one_success, none_skipped, all_skipped, always, all_done_setup_success)`,
    );
  });
  it('bad schedules', () => {
    expect(msg(() => dag({ dagId: 's1', schedule: '61 * * * *' }, () => undefined))).toMatch(/^DagDefinitionError: DAG 's1', field 'schedule': '61 \* \* \* \*' is not a valid cron expression/);
    expect(msg(() => dag({ dagId: 's2', schedule: '@fortnightly' }, () => undefined))).toBe(
      `DagDefinitionError: DAG 's2', field 'schedule': unknown preset '@fortnightly' (known: @hourly, @daily, @weekly, @monthly, @yearly, @annually, @once)`,
    );
    expect(msg(() => dag({ dagId: 's3', schedule: { cron: '0 2 * * *', timezone: 'Mars/Olympus' } }, () => undefined))).toBe(
      `DagDefinitionError: DAG 's3', field 'schedule': unknown timezone 'Mars/Olympus'`,
    );
    expect(msg(() => dag({ dagId: 's4', schedule: 'rate(5 minute)' }, () => undefined))).toBe(
      `DagDefinitionError: DAG 's4', field 'schedule': 'rate(5 minute)': use the singular unit for 1 and the plural otherwise`,
    );
    expect(dag({ dagId: 's5', schedule: { cron: '0 2 * * 1-5', timezone: 'Europe/Amsterdam' } }, () => undefined).spec.schedule).toEqual({
      kind: 'cron', expression: '0 2 * * 1-5', timezone: 'Europe/Amsterdam',
    });
    expect(dag({ dagId: 's6', schedule: 'rate(15 minutes)' }, () => undefined).spec.schedule).toEqual({ kind: 'rate', everyMs: 900_000, expression: 'rate(15 minutes)' });
    expect(dag({ dagId: 's7', schedule: '@daily' }, () => undefined).spec.schedule).toEqual({ kind: 'cron', expression: '0 0 * * *', timezone: 'UTC' });
  });
  it('unknown options, bad durations, unbound inputs', () => {
    expect(msg(() => dag({ dagId: 'o1', schedul: '@daily' } as never, () => undefined))).toMatch(/^DagDefinitionError: DAG 'o1', field 'schedul': unknown DAG option 'schedul'/);
    expect(msg(() => dag({ dagId: 'o2' }, () => { task('a', () => 1, { retrys: 2 } as never); }))).toMatch(/^DagDefinitionError: DAG 'o2', task 'a': unknown option 'retrys' for task\(\)/);
    expect(msg(() => dag({ dagId: 'o3' }, () => { sensor('s', () => true, { pokeInterval: '5 sec' }); }))).toBe(
      `DagDefinitionError: DAG 'o3', task 's', field 'pokeInterval': '5 sec' is not a duration (use e.g. 500ms, 5s, 2m, 1h, 1d, 1h30m, or a number of milliseconds)`,
    );
    expect(msg(() => dag({ dagId: 'o4' }, () => { task('needs', (_c, x: number) => x); }))).toBe(
      `DagDefinitionError: DAG 'o4', task 'needs': the task's function takes an input but none was given: call the task with its input, or use .expand() / .iterate()`,
    );
    expect(msg(() => task('outside', () => 1))).toBe(`DagDefinitionError: task() must be called inside a dag() definition`);
    expect(msg(() => dag({ dagId: 'o5' }, () => { const a = task('a', (_c, x: number) => x); a(1); a(2); }))).toBe(
      `DagDefinitionError: DAG 'o5', task 'a': task 'a' already has its input; its input can be given once (declare another task for another call)`,
    );
  });
  it('the spec is JSON and its hash is the version: same DAG, same version; a change, a new one', () => {
    const mk = (retries: number) => dag({ dagId: 'v', defaultArgs: { retries } }, () => { empty('a').before(task('b', () => 1)); });
    const a = mk(1);
    expect(JSON.parse(JSON.stringify(a.spec))).toEqual(a.spec);
    expect(mk(1).spec.version).toBe(a.spec.version);
    expect(mk(2).spec.version).not.toBe(a.spec.version);
    expect(a.spec.version).toMatch(/^[0-9a-f]{16}$/);
  });
});
