// Failures as data: serializeError keeps name and message apart with the stack and cause chain, bounded;
// formatError gives the "Name: message" text older versions stored, and errorInfoOf reads either form.
import { describe, expect, it } from 'vitest';
import * as errors from '../lib/errors.ts';
import { errorMessage, failureInfo, LostTryError, NonRetriableError, PoolError, skipInfo, TaskTimeoutError } from '../lib/errors.ts';
import {
  cut,
  errorInfoOf,
  formatError,
  formatErrorDetail,
  MESSAGE_MAX,
  NESTED_ERRORS_MAX,
  NESTED_MAX,
  parseErrorText,
  serializeError,
  STACK_MAX,
  summarizeError,
  type ErrorInfo,
} from '../lib/error-info.ts';

/** What a store or the wire does to it: JSON text and back. */
const throughJson = (info: ErrorInfo): unknown => JSON.parse(JSON.stringify(info));

describe('serializeError', () => {
  it('an Error: name and message apart, its stack kept; JSON round-trips it; formatError gives "Name: message"', () => {
    const e = new Error('boom: with a colon');
    const info = serializeError(e);
    expect(info).toEqual({ name: 'Error', message: 'boom: with a colon', data: { stack: e.stack } });
    expect(info.data?.stack).toMatch(/^Error: boom: with a colon\n {4}at /);
    expect(throughJson(info)).toEqual(info);
    expect(formatError(info)).toBe('Error: boom: with a colon');
    expect(parseErrorText(formatError(info))).toEqual({ name: 'Error', message: 'boom: with a colon' });
  });

  it("a subclass keeps its stable name; a subclass that sets none is an 'Error'", () => {
    class Unnamed extends Error {}
    expect(serializeError(new TaskTimeoutError('execution timeout'))).toMatchObject({ name: 'TaskTimeoutError', message: 'execution timeout' });
    expect(serializeError(new NonRetriableError('bad input'))).toMatchObject({ name: 'NonRetriableError', message: 'bad input' });
    expect(serializeError(new RangeError('out of range'))).toMatchObject({ name: 'RangeError', message: 'out of range' });
    expect(serializeError(new Unnamed('x'))).toMatchObject({ name: 'Error', message: 'x' });
    const renamed = new Error('y');
    renamed.name = '';
    expect(serializeError(renamed)).toMatchObject({ name: 'Error', message: 'y' });
  });

  it('a cause chain: each cause an ErrorInfo in data.cause, a thrown non-Error cause too', () => {
    const root = { code: 'ECONNRESET' };
    const mid = new TypeError('fetch failed', { cause: root });
    const top = new NonRetriableError('could not load the catalogue', { cause: mid });
    const info = serializeError(top, { stack: false });
    expect(info).toEqual({
      name: 'NonRetriableError',
      message: 'could not load the catalogue',
      data: { cause: { name: 'TypeError', message: 'fetch failed', data: { cause: { name: 'NonError', message: '{"code":"ECONNRESET"}' } } } },
    });
    expect(throughJson(info)).toEqual(info);
    // With stacks: each cause keeps its own, bounded to NESTED_MAX.
    const withStacks = serializeError(top);
    expect(withStacks.data?.cause?.data?.stack).toBe(cut(mid.stack!, NESTED_MAX));
  });

  it('a cause chain that loops ends where it would repeat; a long one stops after NESTED_ERRORS_MAX errors', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(serializeError(a, { stack: false })).toEqual({ name: 'Error', message: 'a', data: { cause: { name: 'Error', message: 'b' } } });

    let e: Error = new Error('e0');
    for (let i = 1; i <= 30; i++) e = new Error(`e${i}`, { cause: e });
    let depth = 0;
    for (let c = serializeError(e).data?.cause; c; c = c.data?.cause) depth++;
    expect(depth).toBe(NESTED_ERRORS_MAX);
  });

  it("an AggregateError's errors, bounded with the causes", () => {
    const agg = new AggregateError([new Error('one'), 'two', new TypeError('three')], '3 items failed');
    expect(serializeError(agg, { stack: false })).toEqual({
      name: 'AggregateError',
      message: '3 items failed',
      data: { errors: [{ name: 'Error', message: 'one' }, { name: 'NonError', message: 'two' }, { name: 'TypeError', message: 'three' }] },
    });
    const many = new AggregateError(Array.from({ length: 50 }, (_, i) => new Error(`e${i}`)), 'many');
    expect(serializeError(many).data?.errors).toHaveLength(NESTED_ERRORS_MAX);
  });

  it('values that are not Errors: a NonError whose message is their JSON text (or their String)', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const cases: [unknown, string][] = [
      ['plain text', 'plain text'],
      [42, '42'],
      [null, 'null'],
      [undefined, 'undefined'],
      [false, 'false'],
      [{ code: 7, detail: ['x'] }, '{"code":7,"detail":["x"]}'],
      [[1, 'two'], '[1,"two"]'],
      [10n, '10'],
      [Symbol('s'), 'Symbol(s)'],
      [circular, '[object Object]'],
    ];
    for (const [value, message] of cases) expect(serializeError(value)).toEqual({ name: 'NonError', message });
    const noString = Object.create(null) as object;
    expect(serializeError(noString)).toEqual({ name: 'NonError', message: '{}' });
    const hostile = {
      get message(): string {
        throw new Error('no');
      },
    };
    expect(serializeError(hostile)).toMatchObject({ name: 'NonError' });
  });

  it('an object shaped like an error (e.g. cloned across a thread) is read as one', () => {
    expect(serializeError({ name: 'StoreUnavailableError', message: 'locked', stack: 'StoreUnavailableError: locked\n    at x' })).toEqual({
      name: 'StoreUnavailableError',
      message: 'locked',
      data: { stack: 'StoreUnavailableError: locked\n    at x' },
    });
    expect(serializeError({ message: 'no name' })).toEqual({ name: 'Error', message: 'no name' });
  });

  it('a huge message is cut to MESSAGE_MAX characters, its stack to STACK_MAX: the error stays storable', () => {
    const e = new Error('x'.repeat(5_000_000));
    const info = serializeError(e);
    expect(info.message).toHaveLength(MESSAGE_MAX);
    expect(info.message.endsWith('x…')).toBe(true);
    expect(info.data?.stack).toHaveLength(STACK_MAX);
    expect(JSON.stringify(serializeError(new Error('y'.repeat(1_000_000), { cause: new Error('z'.repeat(1_000_000)) }))).length).toBeLessThan(MESSAGE_MAX + STACK_MAX + 2 * NESTED_MAX + 200);
  });

  it('stack: false leaves the stacks out (errors airless makes to describe how a try ended)', () => {
    expect(failureInfo(new PoolError("pool 'gpu' does not exist"))).toEqual({ name: 'PoolError', message: "pool 'gpu' does not exist" });
    expect(failureInfo(new LostTryError('try 1 stopped without a result', { cause: new Error('gone') }))).toEqual({
      name: 'LostTryError',
      message: 'try 1 stopped without a result',
      data: { cause: { name: 'Error', message: 'gone' } },
    });
    expect(skipInfo("not chosen by branch 'b'")).toEqual({ name: 'SkipTask', message: "not chosen by branch 'b'" });
  });
});

describe('errorMessage', () => {
  it('is "Name: message" of any thrown value', () => {
    expect(errorMessage(new TaskTimeoutError('late'))).toBe('TaskTimeoutError: late');
    expect(errorMessage({ a: 1 })).toBe('NonError: {"a":1}');
    expect(errorMessage('text')).toBe('NonError: text');
  });
});

describe('errorInfoOf (reading a stored error)', () => {
  it('an ErrorInfo as is; JSON text of one; the "Name: message" text an older version stored', () => {
    const info = serializeError(new Error('boom', { cause: new Error('root') }));
    expect(errorInfoOf(info)).toBe(info);
    expect(errorInfoOf(JSON.stringify(info))).toEqual(info);
    expect(errorInfoOf('TaskTimeoutError: execution timeout: 60 s')).toEqual({ name: 'TaskTimeoutError', message: 'execution timeout: 60 s' });
    expect(errorInfoOf('States.Timeout: {"x":1}')).toEqual({ name: 'States.Timeout', message: '{"x":1}' });
    expect(errorInfoOf('Error: ')).toEqual({ name: 'Error', message: '' });
    expect(errorInfoOf('multi\nline: no name')).toEqual({ name: 'Error', message: 'multi\nline: no name' });
    expect(errorInfoOf('Batch job j child 1 failed: exit code 7')).toEqual({ name: 'Error', message: 'Batch job j child 1 failed: exit code 7' });
    expect(errorInfoOf('{not json: at all')).toEqual({ name: 'Error', message: '{not json: at all' });
  });

  it('refuses anything else, naming what it got', () => {
    expect(() => errorInfoOf(42)).toThrow(new TypeError('a stored error must be {name, message, data?} or "Name: message" text, got 42'));
    expect(() => errorInfoOf({ name: 'E' })).toThrow(/got \{"name":"E"\}/);
    expect(() => errorInfoOf({ name: 'E', message: 'm', data: [1] })).toThrow(TypeError);
  });
});

describe('summarizeError', () => {
  it('keeps name, the first characters of message and stack, no causes', () => {
    const info: ErrorInfo = { name: 'E', message: 'm'.repeat(3000), data: { stack: 's'.repeat(3000), cause: { name: 'C', message: 'c' } } };
    expect(summarizeError(info, 1000, 500)).toEqual({ name: 'E', message: `${'m'.repeat(999)}…`, data: { stack: `${'s'.repeat(499)}…` } });
    expect(summarizeError({ name: 'E', message: 'short' }, 1000, 500)).toEqual({ name: 'E', message: 'short' });
  });
});

describe('runtime error classes', () => {
  it("each has a stable name: its class's", () => {
    const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error) as [string, new (m: string) => Error][];
    expect(classes.map(([k]) => k)).toEqual(expect.arrayContaining(['PoolError', 'LostTryError', 'RunnableTimeoutError', 'ConfigurationError', 'StandaloneInterruptedError', 'StandaloneResumeError', 'BatchJobFailedError', 'TaskCrashedError', 'TaskOutOfMemoryError', 'UnattributedCrashError', 'TryNotStartedError', 'SchedulerNote']));
    for (const [key, Class] of classes) {
      if (key === 'DagCycleError') continue; // its constructor takes the cycle
      expect(new Class('m').name).toBe(key);
    }
  });
});

describe('formatErrorDetail: the text of a failure with its traceback', () => {
  const runner = (frame: string) => frame.includes('/airless/lib/');
  const stackOf = (head: string, ...frames: string[]) => [head, ...frames.map((f) => `    at ${f}`)].join('\n');

  it("keeps the task code's frames, drops the runner's and Node's, and adds the cause", () => {
    const info: ErrorInfo = {
      name: 'TypeError',
      message: 'bad value',
      data: {
        stack: stackOf('TypeError: bad value', 'parse (/project/dags/_helpers.ts:4:11)', 'fn (/project/dags/etl.ts:9:3)', 'TaskRunner.run (/airless/lib/executor/task-runner.ts:300:5)', 'process.processTicksAndRejections (node:internal/process/task_queues:105:5)'),
        cause: { name: 'Error', message: 'root', data: { stack: stackOf('Error: root', 'read (/project/dags/_helpers.ts:2:9)') } },
      },
    };
    expect(formatErrorDetail(info, runner)).toBe(
      ['TypeError: bad value', '    at parse (/project/dags/_helpers.ts:4:11)', '    at fn (/project/dags/etl.ts:9:3)', 'Caused by: Error: root', '    at read (/project/dags/_helpers.ts:2:9)'].join('\n'),
    );
  });

  it("shows no frame of an error the runner itself threw (its first frame is the runner's)", () => {
    const info: ErrorInfo = { name: 'BatchJobFailedError', message: 'job failed', data: { stack: stackOf('BatchJobFailedError: job failed', 'runBatch (/airless/lib/executor/kinds/batch.ts:80:11)', 'handler (/project/e2e/harness.ts:12:5)') } };
    expect(formatErrorDetail(info, runner)).toBe('BatchJobFailedError: job failed');
  });

  it('without a stack: the name and the message', () => {
    expect(formatErrorDetail({ name: 'Error', message: 'x' })).toBe('Error: x');
  });
});
