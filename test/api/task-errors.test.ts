// How the API serves a task instance's error and each try's: name, message and stack apart in `error`, and
// the one-line text in `note` as before (a skip's reason alone); the causes stay in the store.
import { describe, expect, it } from 'vitest';
import { dag, task } from '../../lib/index.ts';
import { toTaskInstance, triesOf } from '../../lib/api/mappers.ts';
import { skipInfo } from '../../lib/errors.ts';
import { serializeError } from '../../lib/error-info.ts';
import { newTaskInstance, trySummary, type TaskInstanceRecord } from '../../lib/store/records.ts';

const d = dag({ dagId: 'api_errors' }, () => {
  task('t', () => 1);
});
const spec = d.task('t');
const base = newTaskInstance({ dagId: 'api_errors', runId: 'r', taskId: 't', mapIndex: -1, maxTries: 3 });

describe('task instance errors in the API', () => {
  it('a failed instance: its error with name and message apart, its note "Name: message"; earlier tries from the history', () => {
    const thrown = new TypeError('bad value: 3', { cause: new Error('root') });
    const first: TaskInstanceRecord = { ...base, state: 'running', tryNumber: 1, error: serializeError(new RangeError('too far')) };
    const ti: TaskInstanceRecord = { ...base, state: 'failed', tryNumber: 2, error: serializeError(thrown), history: [trySummary(first, 'failed')] };
    const served = toTaskInstance(ti, spec);
    expect(served).toMatchObject({ state: 'failed', note: 'TypeError: bad value: 3', error: { name: 'TypeError', message: 'bad value: 3' } });
    expect(Object.keys(served.error!)).toEqual(['name', 'message', 'stack']);
    // The stack as thrown: its first line the error, then the frames, the first one this file's line above.
    expect(served.error!.stack).toMatch(/^TypeError: bad value: 3\n\s+at .*task-errors\.test\.ts:18:\d+/);
    expect(triesOf(ti).map((t) => [t.try_number, t.note, t.error?.name, t.error?.message, t.error?.stack?.split('\n')[0]])).toEqual([
      [1, 'RangeError: too far', 'RangeError', 'too far', 'RangeError: too far'],
      [2, 'TypeError: bad value: 3', 'TypeError', 'bad value: 3', 'TypeError: bad value: 3'],
    ]);
  });

  it("a skipped instance: its error is a SkipTask whose message is the reason, its note the reason alone", () => {
    const ti: TaskInstanceRecord = { ...base, state: 'skipped', error: skipInfo("not chosen by branch 'pick'") };
    expect(toTaskInstance(ti, spec)).toMatchObject({ note: "not chosen by branch 'pick'", error: { name: 'SkipTask', message: "not chosen by branch 'pick'", stack: null } });
  });

  it('no error: both null', () => {
    expect(toTaskInstance({ ...base, state: 'success', tryNumber: 1 }, spec)).toMatchObject({ note: null, error: null });
  });
});
