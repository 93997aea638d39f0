import { describe, expect, it } from 'vitest';
import { chain, dag, empty, task, taskGroup } from '../lib/index.ts';
import { effectiveLeaves, groupLeaves, setupsAndTeardownsToClear } from '../lib/core/setup-teardown.ts';
import { evaluateTriggerRule, type UpstreamCounts } from '../lib/core/trigger-rules.ts';
import { DagDefinitionError } from '../lib/errors.ts';
import { clearTaskInstances } from '../lib/scheduler/operations.ts';
import type { RunnerEvent } from '../lib/runner/local-runner.ts';
import { fakeRunner, localStores, states, tries } from './helpers.ts';

const STORES = localStores();

const fail = (what: string) => () => {
  throw new Error(`${what} fails`);
};

/** create >> work >> delete, with the given task failing. */
function lifecycle(dagId: string, failing: 'create' | 'work' | 'delete' | null, teardown: { onFailureFailDagrun?: boolean } = {}) {
  return dag({ dagId }, () => {
    const create = task('create', failing === 'create' ? fail('create') : () => 'cluster-1');
    const work = task('work', failing === 'work' ? fail('work') : () => 'done');
    const del = task('delete', failing === 'delete' ? fail('delete') : () => 'deleted');
    chain(create, work, del.asTeardown({ setups: create, ...teardown }));
  });
}

describe('all_done_setup_success (the teardown rule), as Airflow 2.7', () => {
  const c = (over: Partial<UpstreamCounts>): UpstreamCounts => ({ success: 0, failed: 0, skipped: 0, upstream_failed: 0, removed: 0, total: 2, unknownTasks: 0, ...over });
  it('waits for every upstream, runs when one setup succeeded whatever the work did', () => {
    expect(evaluateTriggerRule('all_done_setup_success', c({ success: 1, setups: { done: 1, success: 1, skipped: 0 } }), 2)).toBe('wait');
    expect(evaluateTriggerRule('all_done_setup_success', c({ success: 1, failed: 1, setups: { done: 1, success: 1, skipped: 0 } }), 2)).toBe('run');
    expect(evaluateTriggerRule('all_done_setup_success', c({ success: 1, upstream_failed: 1, setups: { done: 1, success: 1, skipped: 0 } }), 2)).toBe('run');
  });
  it('is upstream_failed when no setup succeeded, skipped when every setup skipped', () => {
    expect(evaluateTriggerRule('all_done_setup_success', c({ failed: 1, upstream_failed: 1, setups: { done: 1, success: 0, skipped: 0 } }), 2)).toBe('upstream_failed');
    expect(evaluateTriggerRule('all_done_setup_success', c({ skipped: 2, setups: { done: 1, success: 0, skipped: 1 } }), 2)).toBe('skipped');
    // Two setups, one skipped, one failed: none succeeded.
    expect(evaluateTriggerRule('all_done_setup_success', { ...c({ skipped: 1, failed: 1, total: 3, success: 1 }), setups: { done: 2, success: 0, skipped: 1 } }, 3)).toBe('upstream_failed');
  });
  it('with no upstream setup it is all_done', () => {
    expect(evaluateTriggerRule('all_done_setup_success', c({ failed: 2 }), 2)).toBe('run');
  });
});

describe('setup and teardown graph rules', () => {
  const d = dag({ dagId: 'st_graph' }, () => {
    const s1 = task('s1', () => 1).asSetup();
    const w1 = task('w1', () => 1);
    const w2 = task('w2', () => 1);
    const t1 = task('t1', () => 1);
    chain(s1, w1, w2, t1.asTeardown({ setups: s1 }));
    const other = task('other', () => 1);
    w1.before(other);
  });
  const spec = (id: string) => d.task(id);
  it('the spec marks setups and teardowns, and a teardown has the teardown rule', () => {
    expect([spec('s1').setup, spec('t1').teardown, spec('t1').triggerRule, spec('w1').setup, spec('w1').teardown]).toEqual([true, true, 'all_done_setup_success', undefined, undefined]);
    expect(spec('t1').upstream.sort()).toEqual(['s1', 'w2']);
  });
  it('the leaves for the run state skip the teardown (its upstream work counts)', () => {
    expect(effectiveLeaves(d.spec.tasks, spec).sort()).toEqual(['other', 'w2']);
  });
  it('clearing a work task clears its setup and teardown; clearing the teardown alone clears nothing else', () => {
    expect(setupsAndTeardownsToClear('w2', spec).sort()).toEqual(['s1', 't1']);
    expect(setupsAndTeardownsToClear('s1', spec)).toEqual(['t1']);
    expect(setupsAndTeardownsToClear('t1', spec)).toEqual([]);
    // 'other' is not between the setup and its teardown: the setup is not relevant to it.
    expect(setupsAndTeardownsToClear('other', spec)).toEqual([]);
  });
  it("a group's leaves are its work tasks, not its teardown", () => {
    expect(groupLeaves(['s1', 'w1', 'w2', 't1'], spec)).toEqual(['w2']);
  });
  it('bad flags are refused, naming the task and field', () => {
    expect(() => dag({ dagId: 'st_bad' }, () => void task({ taskId: 'x', setup: true, teardown: true }, () => 1))).toThrow(/st_bad.*x.*both a setup and a teardown/s);
    expect(() => dag({ dagId: 'st_bad2' }, () => void task({ taskId: 'x', onFailureFailDagrun: true }, () => 1))).toThrow(DagDefinitionError);
    expect(() => dag({ dagId: 'st_bad3', defaultArgs: { teardown: true } }, () => void task('x', () => 1))).toThrow(/defaultArgs.teardown/);
    expect(() => dag({ dagId: 'st_bad4' }, () => void task('x', () => 1).asTeardown({ setup: [] } as never))).toThrow(/unknown option 'setup' for asTeardown/);
  });
  it('a DAG that uses none of it keeps its spec shape (no new fields)', () => {
    const plain = dag({ dagId: 'st_plain' }, () => void task('a', () => 1));
    expect(Object.keys(plain.task('a'))).not.toContain('setup');
    expect(Object.keys(plain.spec)).not.toContain('maxConsecutiveFailedDagRuns');
  });
});

describe.each(STORES)('setup and teardown runs (%s)', (_name, makeStore) => {
  const runOf = async (d: ReturnType<typeof lifecycle>) => {
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const report = await r.run({ dagId: d.dagId });
    return { r, report };
  };

  it('work fails: the teardown still runs, and the run fails (for the work)', async () => {
    const { r, report } = await runOf(lifecycle('st_work_fails', 'work'));
    expect(states(report)).toEqual({ create: 'success', work: 'failed', delete: 'success' });
    expect(report.state).toBe('failed');
    expect(r.errors).toEqual([]);
  });

  it('setup fails: the work is upstream_failed, the teardown is upstream_failed (no setup succeeded), the run fails', async () => {
    const { report } = await runOf(lifecycle('st_setup_fails', 'create'));
    expect(states(report)).toEqual({ create: 'failed', work: 'upstream_failed', delete: 'upstream_failed' });
    expect(report.state).toBe('failed');
  });

  it('teardown fails: the run succeeds (a teardown does not count)', async () => {
    const { report } = await runOf(lifecycle('st_teardown_fails', 'delete'));
    expect(states(report)).toEqual({ create: 'success', work: 'success', delete: 'failed' });
    expect(report.state).toBe('success');
  });

  it('teardown fails with onFailureFailDagrun: the run fails', async () => {
    const { report } = await runOf(lifecycle('st_teardown_fails_run', 'delete', { onFailureFailDagrun: true }));
    expect(states(report)).toEqual({ create: 'success', work: 'success', delete: 'failed' });
    expect(report.state).toBe('failed');
  });

  it("work fails under a teardown with onFailureFailDagrun: the run's state is the teardown's (Airflow's leaves: the work is not one)", async () => {
    const { report } = await runOf(lifecycle('st_work_fails_counted_teardown', 'work', { onFailureFailDagrun: true }));
    expect(states(report)).toEqual({ create: 'success', work: 'failed', delete: 'success' });
    expect(report.state).toBe('success');
  });

  it('nothing fails: everything succeeds', async () => {
    const { report } = await runOf(lifecycle('st_ok', null));
    expect(states(report)).toEqual({ create: 'success', work: 'success', delete: 'success' });
    expect(report.state).toBe('success');
  });

  it('setup and teardown in nested groups: a task after the outer group waits for the work, not the teardown', async () => {
    const order: string[] = [];
    const step = (id: string, fails = false) => () => {
      order.push(id);
      if (fails) throw new Error(`${id} fails`);
      return id;
    };
    const d = dag({ dagId: 'st_nested' }, () => {
      const outer = taskGroup('outer', () => {
        taskGroup('inner', () => {
          const up = task({ taskId: 'up', setup: true }, step('up'));
          const w = task('w', step('w', true));
          const down = task({ taskId: 'down', teardown: true }, step('down'));
          chain(up, w, down);
          up.before(down);
        });
      });
      const after = empty('after');
      outer.before(after);
    });
    expect(d.task('after').upstream).toEqual(['outer.inner.w']);
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const report = await r.run({ dagId: 'st_nested' });
    expect(states(report)).toEqual({ 'outer.inner.up': 'success', 'outer.inner.w': 'failed', 'outer.inner.down': 'success', after: 'upstream_failed' });
    expect(report.state).toBe('failed');
    expect(order).toEqual(['up', 'w', 'down']);
  });

  it("an indirect setup that failed makes a work task upstream_failed whatever its own rule (Airflow's setup constraint)", async () => {
    const d = dag({ dagId: 'st_indirect_fail' }, () => {
      const s1 = task('s1', fail('s1')).asSetup();
      const w1 = task('w1', () => 1);
      const w2 = task({ taskId: 'w2', triggerRule: 'all_done' }, () => 2);
      const t1 = task('t1', () => 3);
      chain(s1, w1, w2, t1.asTeardown({ setups: s1 }));
    });
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const report = await r.run({ dagId: 'st_indirect_fail' });
    expect(states(report)).toEqual({ s1: 'failed', w1: 'upstream_failed', w2: 'upstream_failed', t1: 'upstream_failed' });
    expect(report.state).toBe('failed');
  });

  it('a work task whose own upstreams are done waits for its indirect setup to succeed, and runs when it has', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const d = dag({ dagId: 'st_indirect_wait' }, () => {
      const s1 = task('s1', async () => {
        await gate;
        order.push('s1');
      }).asSetup();
      const x = task('x', () => void order.push('x'));
      // w1 runs on x alone (one_success), while the setup is still running.
      const w1 = task({ taskId: 'w1', triggerRule: 'one_success' }, () => void order.push('w1')).after(s1, x);
      const w2 = task('w2', () => void order.push('w2')).after(w1);
      const t1 = task('t1', () => void order.push('t1'));
      chain(w2, t1.asTeardown({ setups: s1 }));
    });
    expect(d.task('w2').upstream).toEqual(['w1']);
    // Once the step that finished w1 is over (it decided w1's downstream), see whether w2 has an instance,
    // then let the setup go.
    let w2Then: string[] | undefined;
    const onEvent = (e: RunnerEvent) => {
      if (e.type === 'ti' && e.ti.taskId === 'w1' && e.ti.state === 'success') {
        setImmediate(() => {
          void r.store.listTaskInstances(e.ti, 'w2').then((tis) => {
            w2Then = tis.map((ti) => ti.state);
            release();
          });
        });
      }
    };
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false, onEvent });
    const report = await r.run({ dagId: 'st_indirect_wait' });
    expect(report.state).toBe('success');
    // w2 waited, undecided, for s1 although its only upstream, w1, had succeeded.
    expect(w2Then).toEqual([]);
    expect(order).toEqual(['x', 'w1', 's1', 'w2', 't1']);
  });

  it('a mapped setup: the teardown runs when one of its instances succeeded (counted per instance, as Airflow)', async () => {
    const d = dag({ dagId: 'st_mapped_setup' }, () => {
      const nodes = task('nodes', (_c, n: number) => {
        if (n === 2) throw new Error('node 2 fails');
        return `node-${n}`;
      })
        .expand([1, 2, 3])
        .asSetup();
      const work = task('work', () => 'w');
      const down = task('down', () => 'd');
      chain(nodes, work, down.asTeardown({ setups: nodes }));
    });
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const report = await r.run({ dagId: 'st_mapped_setup' });
    expect(states(report)).toEqual({ 'nodes[0]': 'success', 'nodes[1]': 'failed', 'nodes[2]': 'success', work: 'upstream_failed', down: 'success' });
    expect(report.state).toBe('failed');
  });

  it('clearing the work task clears its setup and teardown too: all three run again', async () => {
    let failWork = true;
    const d = dag({ dagId: 'st_clear' }, () => {
      const create = task('create', () => 'c');
      const work = task('work', () => {
        if (failWork) throw new Error('work fails');
        return 'w';
      });
      const del = task('delete', () => 'd');
      chain(create, work, del.asTeardown({ setups: create }));
    });
    const r = fakeRunner([d], { store: makeStore(), captureConsole: false });
    const first = await r.run({ dagId: 'st_clear' });
    expect(first.state).toBe('failed');
    failWork = false;
    const res = await r.drive((s) => clearTaskInstances(s, { dagId: 'st_clear', runId: first.runId, taskIds: ['work'] }));
    expect(res.cleared.map((c) => [c.taskId, c.state]).sort()).toEqual([
      ['create', 'success'],
      ['delete', 'success'],
      ['work', 'failed'],
    ]);
    const ended = await r.waitForRun(first);
    expect(ended.state).toBe('success');
    const report = await r.report(first);
    expect(states(report)).toEqual({ create: 'success', work: 'success', delete: 'success' });
    expect(tries(report)).toEqual({ create: 2, work: 2, delete: 2 });
  });
});
