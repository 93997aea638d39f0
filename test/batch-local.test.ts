import { describe, expect, it } from 'vitest';
import { batchJob, dag, task } from '../lib/index.ts';
import { fakeRunner, states, tries, errorText } from './helpers.ts';
import { LocalRunner } from '../lib/runner/local-runner.ts';

describe('batchJob on a laptop', () => {
  it('runs its command as a child process, array children with AWS_BATCH_JOB_ARRAY_INDEX, output in the log', async () => {
    const d = dag({ dagId: 'proc' }, () => {
      batchJob('echo', { jobQueue: 'q', jobDefinition: 'jd', command: ['sh', '-c', 'echo "hello $GREETING"'], environment: { GREETING: 'world' } });
      batchJob('arr', { command: ['sh', '-c', 'echo "child $AWS_BATCH_JOB_ARRAY_INDEX"'], arraySize: 3 });
      batchJob('fails', { command: ['sh', '-c', 'exit 3'] });
    });
    const r = new LocalRunner({ dags: [d] });
    const report = await r.run({ dagId: 'proc' });
    expect(states(report)).toEqual({ echo: 'success', arr: 'success', fails: 'failed' });
    const echo = (await r.store.getXCom(report, 'echo', -1, 'return_value'))?.value as Record<string, unknown>;
    expect(echo).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, childExitCodes: null });
    const log = (await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'echo', mapIndex: -1 }, 1)).map((l) => l.message);
    expect(log).toContain('hello world');
    const arrLog = (await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'arr', mapIndex: -1 }, 1)).map((l) => l.message).join('\n');
    for (const i of [0, 1, 2]) expect(arrLog).toContain(`[${i}] child ${i}`);
    expect(((await r.store.getXCom(report, 'arr', -1, 'return_value'))?.value as Record<string, unknown>)['childExitCodes']).toEqual([0, 0, 0]);
    const failed = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'fails', mapIndex: -1 });
    expect(errorText(failed?.error)).toMatch(/failed: Essential container in task exited \(exit code 3\)$/);
  });

  it('simulated jobs mapped over 1,000 inputs wait on the clock, holding no slot meanwhile', async () => {
    const d = dag({ dagId: 'sim', maxActiveTasks: 16 }, () => {
      const cmds = task('cmds', () => Array.from({ length: 1000 }, (_, i) => ({ command: ['solve', String(i)] })));
      const jobs = batchJob('job', { jobQueue: 'q', jobDefinition: 'jd', local: { simulate: { duration: '30s', jitter: '10s' } } }).expandKwargs(cmds);
      task('count', (_c, rs: { status: string }[]) => rs.filter((x) => x.status === 'SUCCEEDED').length)(jobs);
    });
    const r = fakeRunner([d], { pools: { default_pool: 16 } });
    const t0 = r.clock.now();
    const report = await r.run({ dagId: 'sim' });
    expect(report.state).toBe('success');
    expect(Object.values(states(report)).filter((s) => s === 'success')).toHaveLength(1002);
    expect((await r.store.getXCom(report, 'count', -1, 'return_value'))?.value).toBe(1000);
    // 1,000 jobs of 30-40 s with only 16 slots finish in about one job's time: waiting holds no slot.
    expect(r.clock.now() - t0).toBeLessThanOrEqual(40_000);
    expect(Object.values(tries(report)).every((n) => n === 1)).toBe(true);
  });

  it('a failed simulated job is retried as a new job', async () => {
    const d = dag({ dagId: 'simfail', defaultArgs: { retries: 1, retryDelay: '1s' } }, () => {
      batchJob('job', { local: { simulate: { duration: '5s', exitCode: 1 } } });
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'simfail' });
    expect(states(report)).toEqual({ job: 'failed' });
    expect(tries(report)).toEqual({ job: 2 });
    const logs = await Promise.all([1, 2].map((n) => r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'job', mapIndex: -1 }, n)));
    const submitted = logs.map((l) => l.find((x) => x.message.startsWith('submitted'))?.message);
    expect(submitted[0]).toMatch(/try1/);
    expect(submitted[1]).toMatch(/try2/);
  });
});
