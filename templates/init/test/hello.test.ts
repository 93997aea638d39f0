/**
 * Tests of dags/hello.ts: the DAG runs in this process on airless's local runner, whose FakeClock skips
 * retry delays ahead, so a run with retries takes milliseconds. Run them with `npm test`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, LocalRunner, type RunRef } from 'airless';
import hello from '../dags/hello.ts';

/** The result (XCom return value) of a task instance of a run; mapIndex -1 for a task that is not mapped. */
async function result(runner: LocalRunner, run: RunRef, taskId: string, mapIndex = -1): Promise<unknown> {
  return (await runner.store.getXCom(run, taskId, mapIndex, 'return_value'))?.value;
}

test('greets every name, one mapped instance per name, and sums up', async () => {
  const runner = new LocalRunner({ dags: [hello], clock: new FakeClock() });
  try {
    const report = await runner.run({ dagId: 'hello', conf: { names: ['Ada', 'Grace'] } });

    assert.equal(report.state, 'success');
    assert.deepEqual(
      report.tasks.map((t) => [t.taskId, t.mapIndex, t.state, t.tryNumber]),
      [
        ['list_names', null, 'success', 1],
        ['greet', 0, 'success', 1],
        ['greet', 1, 'success', 1],
        ['summarize', null, 'success', 1],
      ],
    );
    assert.equal(await result(runner, report, 'greet', 1), 'Hello, Grace!');
    assert.deepEqual(await result(runner, report, 'summarize'), { count: 2, greetings: ['Hello, Ada!', 'Hello, Grace!'] });
  } finally {
    runner.close();
  }
});

test('a failed try is retried after its delay (skipped ahead by the FakeClock)', async () => {
  const runner = new LocalRunner({ dags: [hello], clock: new FakeClock() });
  try {
    const report = await runner.run({ dagId: 'hello', conf: { names: ['Ada'], greeting: 'Hi', flaky: true } });

    assert.equal(report.state, 'success');
    assert.deepEqual(report.tasks.find((t) => t.taskId === 'greet'), { taskId: 'greet', mapIndex: 0, state: 'success', tryNumber: 2 });
    assert.deepEqual(await result(runner, report, 'summarize'), { count: 1, greetings: ['Hi, Ada!'] });
  } finally {
    runner.close();
  }
});
