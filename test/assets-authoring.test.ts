// Declaring assets: the spec a DAG gets (schedule, outlets, its assets), every bad input's message, the
// condition's evaluation (Airflow's semantics for nested and/or) and its asset_expression.
import { describe, expect, it } from 'vitest';
import { and, asset, assetOrTime, dag, eventBridgeWatcher, fileWatcher, or, s3Watcher, sqsWatcher } from '../lib/index.ts';
import { assetConditionText, assetExpression, assetId, evaluateAssetCondition, type AssetConditionSpec } from '../lib/model/asset.ts';
import { sha256 } from '../lib/model/hash.ts';
import { scheduleText } from '../lib/model/schedule.ts';

const a = asset('s3://lake/a');
const b = asset('s3://lake/b', { name: 'B', group: 'tables', extra: { owner: 'ana' } });
const c = asset('file:///data/c.csv', { watchers: [fileWatcher()] });

describe('the spec of a DAG with assets', () => {
  it('schedule on a & (b | c): the condition, the assets sorted by uri, outlets on the tasks', () => {
    const d = dag({ dagId: 'cons', schedule: a.and(b.or(c)) }, ({ task, empty }) => {
      task('t', () => 1, { outlets: [a, a] });
      empty('e');
    });
    expect(d.spec.schedule).toEqual({ kind: 'assets', condition: { and: [{ asset: 's3://lake/a' }, { or: [{ asset: 's3://lake/b' }, { asset: 'file:///data/c.csv' }] }] } });
    expect(d.spec.assets).toEqual([
      { uri: 'file:///data/c.csv', name: 'file:///data/c.csv', group: 'asset', extra: {}, watchers: [{ kind: 'file', path: '/data/c.csv' }] },
      { uri: 's3://lake/a', name: 's3://lake/a', group: 'asset', extra: {} },
      { uri: 's3://lake/b', name: 'B', group: 'tables', extra: { owner: 'ana' } },
    ]);
    expect(d.spec.tasks[0]!.outlets).toEqual(['s3://lake/a']);
    expect('outlets' in d.spec.tasks[1]!).toBe(false);
    expect(scheduleText(d.spec.schedule)).toBe('assets(s3://lake/a & (s3://lake/b | file:///data/c.csv))');
  });

  it('a DAG without assets has no assets field (its hash is as before assets existed)', () => {
    const d = dag({ dagId: 'plain', schedule: '@daily' }, ({ task }) => void task('t', () => 1));
    expect('assets' in d.spec).toBe(false);
  });

  it('and() / or() functions and methods give the same conditions', () => {
    const one = dag({ dagId: 'one', schedule: and(a, or(b, c)) }, ({ empty }) => void empty('e'));
    const two = dag({ dagId: 'two', schedule: a.and(b.or(c)) }, ({ empty }) => void empty('e'));
    expect(one.spec.schedule).toEqual(two.spec.schedule);
  });

  it('assetOrTime keeps the time schedule as a cron/rate spec', () => {
    const d = dag({ dagId: 'aot', schedule: assetOrTime({ schedule: 'rate(5 minutes)', assets: a }) }, ({ empty }) => void empty('e'));
    expect(d.spec.schedule).toEqual({ kind: 'assets_or_time', condition: { asset: 's3://lake/a' }, time: { kind: 'rate', everyMs: 300_000, expression: 'rate(5 minutes)' } });
    expect(scheduleText(d.spec.schedule)).toBe('rate(5 minutes) or assets(s3://lake/a)');
  });

  it('watchers bind to the uri: s3 bucket/prefix, sqs, eventbridge (default bus)', () => {
    const w = asset('s3://bucket/in/coming/', { watchers: [s3Watcher(), sqsWatcher({ queueArn: 'arn:aws:sqs:eu-west-1:123456789012:q' }), eventBridgeWatcher({ eventPattern: { source: ['x'] } })] });
    const d = dag({ dagId: 'w', schedule: w }, ({ empty }) => void empty('e'));
    expect(d.spec.assets![0]!.watchers).toEqual([
      { kind: 's3', bucket: 'bucket', prefix: 'in/coming/' },
      { kind: 'sqs', queueArn: 'arn:aws:sqs:eu-west-1:123456789012:q' },
      { kind: 'eventbridge', eventPattern: { source: ['x'] }, eventBusName: null },
    ]);
  });

  it('assetId is the first 16 hex digits of sha256(uri)', () => {
    expect(assetId('s3://lake/a')).toBe(sha256('s3://lake/a').slice(0, 16));
    expect(assetId('s3://lake/a')).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('bad input: a DagDefinitionError naming DAG, task and field', () => {
  const bad = (schedule: unknown, build: Parameters<typeof dag>[1] = ({ empty }) => void empty('e')) => () => dag({ dagId: 'bad', schedule: schedule as never }, build);

  it.each([
    ['an asset uri without scheme', asset('lake/a'), "DAG 'bad', field 'schedule': asset uri 'lake/a' has no scheme: write it as <scheme>://<path>, e.g. s3://bucket/key or file:///data/x.csv"],
    ['an asset uri with a space', asset('s3://lake/a b'), "DAG 'bad', field 'schedule': asset uri 's3://lake/a b' contains whitespace"],
    ['an empty uri', asset(''), `DAG 'bad', field 'schedule': an asset uri must be a non-empty string, got ""`],
    ['the airflow scheme', asset('airflow://x'), "DAG 'bad', field 'schedule': asset uri 'airflow://x': the scheme 'airflow' is reserved"],
    ['an empty and()', and(), "DAG 'bad', field 'schedule': an empty and(): give it at least one asset or condition"],
    ['an empty or()', a.and(or()), "DAG 'bad', field 'schedule': an empty or(): give it at least one asset or condition"],
    ['a string in and()', and(a, 's3://lake/b' as never), `DAG 'bad', field 'schedule': and() takes assets and conditions, but its argument 2 is the string "s3://lake/b" (wrap a uri in asset())`],
    ['an s3Watcher on a file uri', asset('file:///x', { watchers: [s3Watcher()] }), "DAG 'bad', field 'schedule': asset 'file:///x': watchers[0] (s3): an s3Watcher() needs an s3:// uri, and 'file:///x' is not one"],
    ['a fileWatcher on an s3 uri', asset('s3://b/k', { watchers: [fileWatcher()] }), "DAG 'bad', field 'schedule': asset 's3://b/k': watchers[0] (file): a fileWatcher() needs a file:// uri, and 's3://b/k' is not one"],
    ['a relative file uri', asset('file://data/x.csv', { watchers: [fileWatcher()] }), "DAG 'bad', field 'schedule': asset 'file://data/x.csv': watchers[0] (file): 'file://data/x.csv' is not an absolute file uri (file:///path/to/file)"],
    ['a bad queue ARN', asset('s3://b/k', { watchers: [sqsWatcher({ queueArn: 'q' })] }), `DAG 'bad', field 'schedule': asset 's3://b/k': watchers[0] (sqs): sqsWatcher({ queueArn }) needs an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>), got "q"`],
    ['an empty event pattern', asset('s3://b/k', { watchers: [eventBridgeWatcher({ eventPattern: {} })] }), "DAG 'bad', field 'schedule': asset 's3://b/k': watchers[0] (eventbridge): eventBridgeWatcher({ eventPattern }) needs a non-empty event pattern object, got {}"],
    ['a watcher that is not one', asset('s3://b/k', { watchers: [{ kind: 's3' } as never] }), "DAG 'bad', field 'schedule': asset 's3://b/k': watchers[0] is not a watcher (use s3Watcher(), sqsWatcher(), eventBridgeWatcher() or fileWatcher())"],
    ['an unknown asset option', asset('s3://b/k', { nmae: 'x' } as never), "DAG 'bad', field 'schedule': asset 's3://b/k': unknown option 'nmae' (known: name, group, extra, watchers)"],
    ['an assetOrTime without assets', assetOrTime({ schedule: '@daily', assets: undefined as never }), "DAG 'bad', field 'schedule.assets': expected an asset or a condition made with and()/or(), got undefined"],
    ['an assetOrTime without time', assetOrTime({ schedule: null as never, assets: a }), "DAG 'bad', field 'schedule.schedule': assetOrTime() needs a time schedule (cron, preset, rate(...) or { cron, timezone })"],
    ['an assetOrTime with a bad cron', assetOrTime({ schedule: '@sometimes', assets: a }), "DAG 'bad', field 'schedule': unknown preset '@sometimes' (known: @hourly, @daily, @weekly, @monthly, @yearly, @annually, @once)"],
  ])('%s', (_what, schedule, message) => {
    expect(bad(schedule)).toThrow(expect.objectContaining({ name: 'DagDefinitionError', message }));
  });

  it('the same uri declared twice with different options', () => {
    expect(bad(a.and(asset('s3://lake/a', { name: 'other' })))).toThrow("DAG 'bad', field 'schedule': asset 's3://lake/a' is declared twice with different options (name, group, extra or watchers): declare it once and share it");
  });

  it('an outlet that is not an asset', () => {
    expect(bad(null, ({ task }) => void task('t', () => 1, { outlets: ['s3://lake/a' as never] }))).toThrow(
      expect.objectContaining({ name: 'DagDefinitionError', message: `DAG 'bad', task 't', field 'outlets[0]': an outlet must be an asset (made by asset()), got the string "s3://lake/a" (wrap a uri in asset())` }),
    );
    expect(bad(null, ({ task }) => void task('t', () => 1, { outlets: a as never }))).toThrow("DAG 'bad', task 't', field 'outlets': outlets must be a list of assets (made by asset()), got an object");
    expect(bad(null, ({ empty }) => void empty('e', { outlets: [asset('nope')] }))).toThrow("DAG 'bad', task 'e', field 'outlets[0]': asset uri 'nope' has no scheme");
  });

  it('outlets is a task option, not a DAG default', () => {
    expect(() => dag({ dagId: 'bad', defaultArgs: { outlets: [a] } }, ({ empty }) => void empty('e'))).toThrow("DAG 'bad', field 'defaultArgs.outlets': 'outlets' is a task's own option, not a default for every task");
  });

  it('every kind that succeeds takes outlets', () => {
    const d = dag({ dagId: 'kinds' }, ({ task, sensor, batchJob, empty, branch, shortCircuit, triggerDag }) => {
      task('t', () => 1, { outlets: [a] });
      sensor('s', () => true, { outlets: [a] });
      batchJob('j', { jobQueue: 'q', jobDefinition: 'd', outlets: [a] });
      empty('e', { outlets: [a] });
      branch('br', () => null, { outlets: [a] });
      shortCircuit('sc', () => true, { outlets: [a] });
      triggerDag('tr', { triggerDagId: 'other', outlets: [a] });
    });
    expect(d.spec.tasks.map((t) => t.outlets)).toEqual(Array(7).fill(['s3://lake/a']));
  });
});

describe('condition evaluation (Airflow semantics)', () => {
  const A: AssetConditionSpec = { asset: 'a' };
  const B: AssetConditionSpec = { asset: 'b' };
  const C: AssetConditionSpec = { asset: 'c' };
  const D: AssetConditionSpec = { asset: 'd' };
  const nested: AssetConditionSpec = { and: [A, { or: [B, { and: [C, D] }] }] }; // a & (b | (c & d))

  it.each([
    [[], false],
    [['a'], false],
    [['a', 'b'], true],
    [['a', 'c'], false],
    [['a', 'c', 'd'], true],
    [['b', 'c', 'd'], false],
    [['a', 'b', 'c', 'd', 'x'], true],
  ])('a & (b | (c & d)) over %j is %s', (seen, expected) => {
    expect(evaluateAssetCondition(nested, new Set(seen))).toBe(expected);
  });

  it('a single asset, a one-element and/or', () => {
    expect(evaluateAssetCondition(A, new Set(['a']))).toBe(true);
    expect(evaluateAssetCondition({ or: [A] }, new Set(['b']))).toBe(false);
    expect(evaluateAssetCondition({ and: [A] }, new Set(['a']))).toBe(true);
  });

  it("Airflow's asset_expression and the condition as text", () => {
    expect(assetExpression(nested, [{ uri: 'a', name: 'Alpha', group: 'asset', extra: {} }])).toEqual({
      all: [{ asset: { uri: 'a', name: 'Alpha' } }, { any: [{ asset: { uri: 'b', name: 'b' } }, { all: [{ asset: { uri: 'c', name: 'c' } }, { asset: { uri: 'd', name: 'd' } }] }] }],
    });
    expect(assetConditionText(nested)).toBe('a & (b | (c & d))');
  });
});
