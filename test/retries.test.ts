import { describe, expect, it } from 'vitest';
import { dag, task, NonRetriableError, SkipTask } from '../lib/index.ts';
import { retryDelayMs, MAX_RETRY_DELAY_MS } from '../lib/core/retry.ts';
import type { TaskInstanceRecord } from '../lib/store/records.ts';
import { fakeRunner, states, tries, errorText } from './helpers.ts';

describe('retryDelayMs (Airflow formula)', () => {
  const base = { retries: 5, retryDelayMs: 10_000, retryExponentialBackoff: false, maxRetryDelayMs: null };
  it('is the fixed delay without backoff', () => {
    expect(retryDelayMs(base, 1, 'x')).toBe(10_000);
    expect(retryDelayMs(base, 4, 'x')).toBe(10_000);
  });
  it('doubles per try with a deterministic jitter in [d, 2d)', () => {
    const p = { ...base, retryExponentialBackoff: true };
    for (let n = 1; n <= 6; n++) {
      const d = 10_000 * 2 ** (n - 1);
      const got = retryDelayMs(p, n, 'dag#task#-1#2026-01-01');
      expect(got).toBeGreaterThanOrEqual(d);
      expect(got).toBeLessThan(2 * d);
      expect(got % 1000).toBe(0);
      expect(retryDelayMs(p, n, 'dag#task#-1#2026-01-01')).toBe(got);
    }
  });
  it('uses at least 1 s with backoff and a zero delay, and caps at maxRetryDelay and 24 h', () => {
    const p = { ...base, retryDelayMs: 0, retryExponentialBackoff: true };
    expect(retryDelayMs(p, 1, 'a')).toBeGreaterThanOrEqual(1000);
    expect(retryDelayMs({ ...p, retryDelayMs: 60_000 }, 40, 'a')).toBe(MAX_RETRY_DELAY_MS);
    expect(retryDelayMs({ ...p, retryDelayMs: 60_000, maxRetryDelayMs: 90_000 }, 5, 'a')).toBe(90_000);
  });
});

describe('retries on a fake clock', () => {
  it('retries a failing task with exponential backoff, then succeeds', async () => {
    let calls = 0;
    const d = dag({ dagId: 'flaky', defaultArgs: { retries: 3, retryDelay: '10s', retryExponentialBackoff: true } }, () => {
      task('flaky', () => {
        calls++;
        if (calls < 3) throw new Error(`boom ${calls}`);
        return 'ok';
      });
    });
    const r = fakeRunner([d]);
    const seen: TaskInstanceRecord[] = [];
    r.on((e) => {
      if (e.type === 'ti') seen.push(e.ti);
    });
    const report = await r.run({ dagId: 'flaky' });
    expect(report.state).toBe('success');
    expect(tries(report)).toEqual({ flaky: 3 });
    const retryAt = seen.filter((t) => t.state === 'up_for_retry');
    const starts = seen.filter((t) => t.state === 'running');
    expect(retryAt.map((t) => t.tryNumber)).toEqual([1, 2]);
    expect(starts.map((t) => t.tryNumber)).toEqual([1, 2, 3]);
    // The wait between the end of try n and the start of try n+1 is the backoff of try n.
    for (const [i, n] of [1, 2].entries()) {
      const ended = Date.parse(retryAt[i]!.endDate!);
      const next = Date.parse(starts[i + 1]!.startDate!);
      const min = 10_000 * 2 ** (n - 1);
      expect(next - ended).toBeGreaterThanOrEqual(min);
      expect(next - ended).toBeLessThan(2 * min);
      expect(Date.parse(retryAt[i]!.nextAt!) - ended).toBe(next - ended);
    }
    const log1 = await r.store.getLog({ dagId: report.dagId, runId: report.runId, taskId: 'flaky', mapIndex: -1 }, 1);
    expect(log1.map((l) => l.message.split('\n')[0])).toContain('Error: boom 1');
  });

  it('fails after retries + 1 tries, downstream upstream_failed, run failed, callbacks called', async () => {
    const events: string[] = [];
    const d = dag(
      {
        dagId: 'always_fails',
        defaultArgs: { retries: 2, retryDelay: '1m' },
        onFailure: (run) => void events.push(`dag:${run.state}`),
      },
      () => {
        const a = task('a', () => {
          throw new Error('nope');
        }, { onRetry: (c) => void events.push(`retry:${c.tryNumber}`), onFailure: (c) => void events.push(`fail:${c.tryNumber}:${c.error}`) });
        task('b', () => 1).after(a);
      },
    );
    const r = fakeRunner([d]);
    const start = r.clock.now();
    const report = await r.run({ dagId: 'always_fails' });
    expect(report.state).toBe('failed');
    expect(states(report)).toEqual({ a: 'failed', b: 'upstream_failed' });
    expect(tries(report)).toEqual({ a: 3, b: 0 });
    expect(events).toEqual(['retry:1', 'retry:2', 'fail:3:Error: nope', 'dag:failed']);
    expect(r.clock.now() - start).toBe(2 * 60_000);
  });

  it('NonRetriableError fails at once; SkipTask skips', async () => {
    const d = dag({ dagId: 'nonretry', defaultArgs: { retries: 5 } }, () => {
      task('hard', () => {
        throw new NonRetriableError('bad input');
      });
      task('skipper', () => {
        throw new SkipTask('nothing to do today');
      });
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'nonretry' });
    expect(states(report)).toEqual({ hard: 'failed', skipper: 'skipped' });
    expect(tries(report)).toEqual({ hard: 1, skipper: 1 });
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'hard', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe('NonRetriableError: bad input');
    expect(report.state).toBe('failed');
  });

  it('executionTimeout fires the AbortSignal and fails the try (retried)', async () => {
    const aborted: string[] = [];
    const d = dag({ dagId: 'slow', defaultArgs: { retries: 1, retryDelay: '1s', executionTimeout: 50 } }, () => {
      task('slow', (ctx) => new Promise((resolve) => {
        ctx.signal.addEventListener('abort', () => aborted.push(String((ctx.signal.reason as Error).name)));
        setTimeout(resolve, 2000).unref();
      }));
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'slow' });
    expect(states(report)).toEqual({ slow: 'failed' });
    expect(tries(report)).toEqual({ slow: 2 });
    expect(aborted).toEqual(['TaskTimeoutError', 'TaskTimeoutError']);
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'slow', mapIndex: -1 });
    expect(errorText(ti?.error)).toMatch(/^TaskTimeoutError: execution timeout: the try ran longer than 50 ms/);
  });

  it('a result that is not JSON fails the task with the path named, without retries', async () => {
    const d = dag({ dagId: 'badxcom', defaultArgs: { retries: 3 } }, () => {
      task('bad', () => ({ rows: [1, new Map([[1, 2]])] }));
    });
    const r = fakeRunner([d]);
    const report = await r.run({ dagId: 'badxcom' });
    expect(states(report)).toEqual({ bad: 'failed' });
    expect(tries(report)).toEqual({ bad: 1 });
    const ti = await r.store.getTaskInstance({ dagId: report.dagId, runId: report.runId, taskId: 'bad', mapIndex: -1 });
    expect(errorText(ti?.error)).toBe('XComSerializationError: result.rows[1] is a Map, which is not plain JSON (use Object.fromEntries(map))');
  });
});
