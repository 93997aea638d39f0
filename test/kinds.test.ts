// Task kinds as a discriminated union: the spec's shape per kind (its JSON keeps every kind field, so
// the DAG version is as before), the per-kind tables of the compiler and the task runner (a kind
// missing from a table does not compile), the shared lifecycle machine each kind runs on, and the IAM
// statements the compiler's integrations declare for each machine.
import { describe, expect, it } from 'vitest';
import { dag } from '../lib/index.ts';
import type { KindFields, TaskKind, TaskSpec, TaskSpecOf } from '../lib/model/spec.ts';
import { KIND_COMPILERS, type KindCompilers } from '../lib/compiler/kinds/index.ts';
import { KIND_RUNNERS, type KindRunners } from '../lib/executor/kinds/index.ts';
import { runsTaskCode } from '../lib/executor/task-runner.ts';
import { compileBatchWatcher, compileLifecycleMachine, mergeStatements, taskLifecycle, type PolicyStatement } from '../lib/compiler/index.ts';
import { namesOwnStateMachine } from '../lib/compiler/iam.ts';
import { mapTask, S3_GET_OBJECT } from '../lib/compiler/integrations.ts';
import { resolveResource, resolveStatements } from '../cdk/policy-statements.ts';
import { taskSpec } from './support/task-spec.ts';

const KINDS: TaskKind[] = ['task', 'branch', 'short_circuit', 'sensor', 'batch', 'trigger_dag', 'empty', 'hitl'];

/** A DAG with one task of every kind. */
const everyKind = dag({ dagId: 'every_kind' }, ({ task, branch, shortCircuit, sensor, batchJob, triggerDag, empty, hitlChoice }) => {
  const a = task('task', () => 1);
  const b = branch('branch', () => null);
  const c = shortCircuit('short_circuit', () => true);
  const d = sensor('sensor', () => true, { pokeInterval: '5s' });
  const e = batchJob('batch', { jobQueue: 'q', jobDefinition: 'd', command: ['echo'] });
  const f = triggerDag('trigger_dag', { triggerDagId: 'other' });
  const g = empty('empty');
  const h = hitlChoice('hitl', { subject: 'pick', options: ['a', 'b'] });
  a.before(b);
  b.before(c);
  c.before(d, e, f, g, h);
});

const OWN: Record<TaskKind, keyof KindFields | null> = { task: null, branch: null, short_circuit: 'shortCircuit', sensor: 'sensor', batch: 'batch', trigger_dag: 'triggerDag', empty: null, hitl: 'hitl' };

describe('TaskSpec, discriminated on kind', () => {
  it('every spec carries every kind field: its own set, the others null (one JSON shape, so the DAG version is unchanged)', () => {
    expect(everyKind.spec.tasks.map((t) => t.kind).sort()).toEqual([...KINDS].sort());
    for (const t of everyKind.spec.tasks) {
      for (const field of ['sensor', 'triggerDag', 'batch', 'shortCircuit', 'hitl'] as const) {
        expect(t[field] === null, `${t.kind}.${field}`).toBe(OWN[t.kind] !== field);
      }
    }
  });

  it('narrowing on kind gives the kind its own field, non-null (type-level)', () => {
    const t: TaskSpec = everyKind.task('sensor');
    if (t.kind !== 'sensor') throw new Error('expected the sensor');
    const interval: number = t.sensor.pokeIntervalMs;
    expect(interval).toBe(5000);
    const batch: TaskSpecOf<'batch'>['batch']['jobQueue'] = 'q';
    expect(everyKind.task('batch')).toMatchObject({ batch: { jobQueue: batch } });
    // @ts-expect-error a branch has no sensor: its field is null
    const none: NonNullable<TaskSpecOf<'branch'>['sensor']> = { pokeIntervalMs: 1, timeoutMs: 1, softFail: false, exponentialBackoff: false };
    expect(none).toBeDefined();
  });

  it('the test helper refuses a kind without its own field', () => {
    expect(() => taskSpec({ taskId: 's', kind: 'sensor' })).toThrow("taskSpec: a sensor task needs its 'sensor'");
  });
});

describe('one module per kind', () => {
  it('the compiler and the task runner have an entry for every kind, and no other', () => {
    expect(Object.keys(KIND_COMPILERS).sort()).toEqual([...KINDS].sort());
    expect(Object.keys(KIND_RUNNERS).sort()).toEqual([...KINDS].sort());
  });

  it('a table without a kind is a type error', () => {
    const { empty: _c, ...compilers } = KIND_COMPILERS;
    const { empty: _r, ...runners } = KIND_RUNNERS;
    // @ts-expect-error 'empty' is missing
    const c: KindCompilers = compilers;
    // @ts-expect-error 'empty' is missing
    const r: KindRunners = runners;
    expect(Object.keys(c)).not.toContain('empty');
    expect(Object.keys(r)).not.toContain('empty');
  });

  it('the kinds whose tries run the task\'s code are the ones isolation is for', () => {
    const runs = everyKind.spec.tasks.filter((t) => runsTaskCode(t)).map((t) => t.kind).sort();
    expect(runs).toEqual(['branch', 'sensor', 'short_circuit', 'task']);
  });

  it('the lifecycle of each kind', () => {
    expect(Object.fromEntries(everyKind.spec.tasks.map((t) => [t.kind, KIND_COMPILERS[t.kind].lifecycle(t as never, {})]))).toStrictEqual({
      task: 'lambda',
      branch: 'lambda',
      short_circuit: 'lambda',
      sensor: 'sensor',
      batch: 'batch',
      trigger_dag: 'lambda',
      empty: 'none',
      hitl: 'hitl',
    });
  });

  it('the shared machine each kind runs on (an empty task runs none)', () => {
    const running = everyKind.spec.tasks.filter((t) => t.kind !== 'empty');
    expect(Object.fromEntries(running.map((t) => [t.kind, taskLifecycle(t).machine]))).toStrictEqual({
      task: 'try',
      branch: 'try',
      short_circuit: 'try',
      sensor: 'sensor',
      batch: 'batch',
      trigger_dag: 'try',
      hitl: 'hitl',
    });
    expect(taskLifecycle(everyKind.task('batch'), { batchWatch: 'poll' }).machine).toBe('try');
  });
});

const OPTIONS = { taskRunnerArn: '${TaskRunnerArn}', schedulerArn: '${SchedulerArn}', sensorPokeArn: '${SensorPokeArn}' };
const invoke = (...fns: string[]) => ({ actions: ['lambda:InvokeFunction'], resources: fns.map((arn) => ({ arn })) });

const own = (resource: string) => ({ arn: `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:${resource}` });
/** A Distributed Map starts, describes and stops executions of its own state machine. */
const DISTRIBUTED_MAP = [
  { actions: ['states:StartExecution'], resources: [own('stateMachine:${StateMachineName}')] },
  { actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [own('execution:${StateMachineName}:*'), own('execution:${StateMachineName}/*')] },
];
/** `batch:submitJob.sync`: submit, describe and stop jobs, and keep the EventBridge rule of .sync. */
const SUBMIT_JOB_SYNC = [
  { actions: ['batch:SubmitJob'], resources: [{ deployment: 'batchJobQueuesAndDefinitions' }] },
  { actions: ['batch:DescribeJobs'], resources: [{ arn: '*' }] },
  { actions: ['batch:TerminateJob'], resources: [{ arn: 'arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job/*' }] },
  {
    actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
    resources: [{ arn: 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForBatchJobsRule' }],
  },
];

describe('IAM declared by the integrations, per machine', () => {
  it('try invokes the task runner and the scheduler; sensor the sensor-poke function and the scheduler', () => {
    expect(compileLifecycleMachine('try', OPTIONS).statements).toStrictEqual([invoke('${TaskRunnerArn}', '${SchedulerArn}')]);
    expect(compileLifecycleMachine('sensor', OPTIONS).statements).toStrictEqual([invoke('${SensorPokeArn}', '${SchedulerArn}')]);
    // A Batch task in poll mode runs on the try machine: one invocation that submits (the task runner's own permission), nothing of Batch here.
    expect(compileLifecycleMachine('try', { ...OPTIONS, batchWatch: 'poll' }).statements).toStrictEqual([invoke('${TaskRunnerArn}', '${SchedulerArn}')]);
  });

  it('batch invokes the task runner and the scheduler and starts batch_job executions, on that machine alone: nothing of Batch', () => {
    const startBatchJob = (arn: string) => ({ actions: ['states:StartExecution'], resources: [{ arn }] });
    expect(compileLifecycleMachine('batch', OPTIONS).statements).toStrictEqual([invoke('${TaskRunnerArn}', '${SchedulerArn}'), startBatchJob('${BatchJobMachineArn}')]);
    const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:BatchJob';
    expect(compileLifecycleMachine('batch', { ...OPTIONS, batchJobMachineArn: arn }).statements).toStrictEqual([invoke('${TaskRunnerArn}', '${SchedulerArn}'), startBatchJob(arn)]);
  });

  it('batch_job (.sync) submits, describes and stops jobs and keeps the EventBridge rule of .sync, and invokes the task runner and the scheduler', () => {
    expect(compileLifecycleMachine('batch_job', OPTIONS).statements).toStrictEqual([...SUBMIT_JOB_SYNC, invoke('${TaskRunnerArn}', '${SchedulerArn}')]);
  });

  it('iterate: its Distributed Map over an S3 item list starts and watches executions of its own state machine and reads and writes the item objects, in both modes', () => {
    const expected = [
      invoke('${TaskRunnerArn}', '${SchedulerArn}'),
      ...DISTRIBUTED_MAP,
      { actions: ['s3:GetObject', 's3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'], resources: [{ deployment: 'largeValueObjects' }] },
    ];
    expect(compileLifecycleMachine('iterate', OPTIONS).statements).toStrictEqual(expected);
    expect(compileLifecycleMachine('iterate', { ...OPTIONS, iterateMode: 'distributed' }).statements).toStrictEqual(expected);
  });

  it('batch_array: its groups are child executions; sync submits array jobs with .sync, poll leaves Batch to the task runner', () => {
    expect(compileLifecycleMachine('batch_array', OPTIONS).statements).toStrictEqual([invoke('${TaskRunnerArn}', '${SchedulerArn}'), ...SUBMIT_JOB_SYNC, ...DISTRIBUTED_MAP]);
    expect(compileLifecycleMachine('batch_array', { ...OPTIONS, batchWatch: 'poll' }).statements).toStrictEqual([invoke('${TaskRunnerArn}', '${SchedulerArn}'), ...DISTRIBUTED_MAP]);
  });

  it('the Batch watcher invokes the describe-jobs function and starts executions of itself', () => {
    expect(compileBatchWatcher({ describeJobsArn: '${DescribeJobsArn}' }).statements).toStrictEqual([invoke('${DescribeJobsArn}'), DISTRIBUTED_MAP[0]]);
  });

  it('the machines whose statements name their own state machine (so their role cannot be shared) are those with a Distributed Map', () => {
    const naming = (['try', 'sensor', 'batch', 'batch_job', 'iterate', 'batch_array'] as const).filter((m) => compileLifecycleMachine(m, OPTIONS).statements.some(namesOwnStateMachine));
    expect(naming).toStrictEqual(['iterate', 'batch_array']);
  });

  it('a Map state refuses an item reader it knows no permission for', () => {
    const reader = { Resource: 'arn:aws:states:::s3:listObjectsV2', ReaderConfig: { InputType: 'JSON' as const }, Parameters: {} };
    const processor = { ProcessorConfig: { Mode: 'DISTRIBUTED' as const, ExecutionType: 'STANDARD' as const }, StartAt: 'A', States: { A: { Type: 'Succeed' as const } } };
    expect(() => mapTask({ items: { reader }, maxConcurrency: 1, itemProcessor: processor, next: null })).toThrow(
      `an ItemReader of 'arn:aws:states:::s3:listObjectsV2' has no IAM statements here (only '${S3_GET_OBJECT}')`,
    );
  });

  it('mergeStatements joins statements on the same resources, then of the same actions, granting exactly as much', () => {
    const r = (arn: string) => ({ arn });
    const given: PolicyStatement[] = [
      { actions: ['a:One'], resources: [r('x')] },
      { actions: ['a:Two'], resources: [r('x')] },
      { actions: ['a:One', 'a:Two'], resources: [r('y')] },
      { actions: ['a:Three'], resources: [r('z'), r('z')] },
    ];
    expect(mergeStatements(given)).toStrictEqual([
      { actions: ['a:One', 'a:Two'], resources: [r('x'), r('y')] },
      { actions: ['a:Three'], resources: [r('z')] },
    ]);
    const pairs = (ss: PolicyStatement[]) => [...new Set(ss.flatMap((s) => s.actions.flatMap((a) => s.resources.map((x) => `${a} ${JSON.stringify(x)}`))))].sort();
    expect(pairs(mergeStatements(given))).toEqual(pairs(given));
  });

  it('the stack resolves placeholders and resource sets, and refuses a placeholder it does not define', () => {
    const context = { placeholders: { 'AWS::Partition': 'aws', TaskRunnerArn: 'arn:fn' }, deployment: { batchJobQueuesAndDefinitions: [], largeValueObjects: ['arn:bucket/airless/*'] } };
    expect(resolveResource({ arn: 'arn:${AWS::Partition}:x' }, context)).toEqual(['arn:aws:x']);
    expect(resolveResource({ deployment: 'largeValueObjects' }, context)).toEqual(['arn:bucket/airless/*']);
    expect(() => resolveResource({ arn: 'arn:${AWS::Region}:x' }, context)).toThrow(
      "IAM resource 'arn:${AWS::Region}:x' names ${AWS::Region}, which this stack does not define (it has: AWS::Partition, TaskRunnerArn)",
    );
    // No job queue or definition known: SubmitJob on nothing is left out, not granted on '*'.
    expect(resolveStatements([{ actions: ['batch:SubmitJob'], resources: [{ deployment: 'batchJobQueuesAndDefinitions' }] }], context)).toEqual([]);
  });
});
