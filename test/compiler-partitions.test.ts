// The partitions machine: the deployed fan-out of a partitioned iteration (`.expand(partitions).iterate(items)`).
// Its full expected definition is written out here (not derived from the compiler); asl-validator checks
// it; its IAM statements are those of its Distributed Map and of the StartExecution of the iterate
// machine; it runs on aws-local-stepfunctions with its StartIteration state played by a local function,
// which shows each child's input (the iterate execution's name and LifecycleInput from the Map's input).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import { taskSpec } from './support/task-spec.ts';
import { compileLifecycleMachine, lifecycleSettings, PARTITIONS_PER_EXECUTION, withPartition, type CompileOptions, type PartitionsInput } from '../lib/compiler/index.ts';
import { partitionLifecycleInput } from '../lib/compiler/partitions-lifecycle.ts';

type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

function validate(definition: unknown): string {
  const r = aslValidator(structuredClone(definition));
  return r.isValid ? 'valid' : `invalid:\n${r.errorsText('\n')}`;
}

const OPTIONS: CompileOptions = {
  taskRunnerArn: 'arn:aws:lambda:eu-west-1:123456789012:function:airless-task-runner',
  schedulerArn: 'arn:aws:lambda:eu-west-1:123456789012:function:airless-scheduler',
  sensorPokeArn: 'arn:aws:lambda:eu-west-1:123456789012:function:airless-sensor-poke',
};

const PARTITIONS_EXPECTED = {
  Comment: "airless partitioned iteration: a Distributed Map over a partitioned task's instances, each child starting that instance's iterate execution",
  StartAt: 'Partitions',
  States: {
    Partitions: {
      Type: 'Map',
      Comment: "One child execution per partition: it starts that instance's iterate execution",
      ItemsPath: '$.instances',
      ItemSelector: {
        'name.$': '$$.Map.Item.Value.name',
        key: { 'dagId.$': '$.dagId', 'runId.$': '$.runId', 'taskId.$': '$.taskId', 'mapIndex.$': '$$.Map.Item.Value.mapIndex' },
        'dagId.$': '$.dagId',
        'tryNumber.$': '$$.Map.Item.Value.tryNumber',
        'settings.$': '$.settings',
      },
      MaxConcurrencyPath: '$.settings.maxConcurrency',
      ToleratedFailurePercentage: 100,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'StartIteration',
        States: {
          StartIteration: {
            Type: 'Task',
            Comment: "Start the instance's iterate execution under its deterministic name",
            Resource: 'arn:${Partition}:states:::states:startExecution',
            Parameters: {
              StateMachineArn: '${IterateMachineArn}',
              'Name.$': '$.name',
              Input: { 'key.$': '$.key', 'dagId.$': '$.dagId', 'tryNumber.$': '$.tryNumber', 'settings.$': '$.settings' },
            },
            ResultPath: null,
            Retry: [
              {
                ErrorEquals: ['StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException', 'StepFunctions.ThrottlingException'],
                IntervalSeconds: 1,
                MaxAttempts: 6,
                BackoffRate: 2,
                JitterStrategy: 'FULL',
              },
            ],
            Catch: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: null, Next: 'Started' }],
            Next: 'Started',
          },
          Started: { Type: 'Pass', Comment: 'The iteration runs (started here or before): end with {}', Parameters: {}, End: true },
        },
      },
      ResultPath: null,
      End: true,
    },
  },
};

const OWN = 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}';

describe('the partitions machine (Standard): a Distributed Map over the instances, each child starting its iterate execution', () => {
  it('the full ASL; asl-validator accepts it', () => {
    const c = compileLifecycleMachine('partitions', OPTIONS);
    expect(c.definition).toStrictEqual(PARTITIONS_EXPECTED);
    expect(JSON.stringify(c.definition)).toBe(JSON.stringify(PARTITIONS_EXPECTED));
    expect(c.workflowType).toStrictEqual({ type: 'STANDARD', reason: "its Distributed Map, which starts each partition's iterate execution, runs only in a Standard workflow" });
    expect(validate(withPartition(c.definition))).toBe('valid');
    // The iterate machine's ARN as given (the harness passes it), else the deployment's substitution.
    const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:x-iterate';
    const named = compileLifecycleMachine('partitions', { ...OPTIONS, iterateMachineArn: arn });
    expect(JSON.stringify(named.definition)).toBe(JSON.stringify(PARTITIONS_EXPECTED).replace('${IterateMachineArn}', arn));
    expect(() => compileLifecycleMachine('partitions', { ...OPTIONS, iterateMachineArn: '' })).toThrowError(/^option 'iterateMachineArn' must be a non-empty string$/);
  });

  it('IAM beside the states: StartExecution on the iterate machine; the Distributed Map\'s own start, describe and stop of its children', () => {
    const c = compileLifecycleMachine('partitions', OPTIONS);
    expect(c.statements).toStrictEqual([
      { actions: ['states:StartExecution'], resources: [{ arn: '${IterateMachineArn}' }, { arn: `${OWN}:stateMachine:\${StateMachineName}` }] },
      {
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [{ arn: `${OWN}:execution:\${StateMachineName}:*` }, { arn: `${OWN}:execution:\${StateMachineName}/*` }],
      },
    ]);
  });

  it('runs on aws-local-stepfunctions: each child starts its instance\'s iterate execution with the LifecycleInput startLifecycle gives; one already started is success; the others go on', async () => {
    const spec = taskSpec({ taskId: 'flag', kind: 'task', maxActiveTisPerDag: 2, mapping: { mode: 'single', source: [1, 2, 3] } as never, iterate: { mapping: { mode: 'single', source: { $partitionItems: '' } } as never, concurrency: 8, itemRetries: 2, partitioned: true } });
    const input: PartitionsInput = {
      dagId: 'nightly',
      runId: 'manual__1',
      taskId: 'flag',
      settings: lifecycleSettings(spec),
      instances: [0, 1, 2].map((m) => ({ name: `flag_${m}-t1-abc`, mapIndex: m, tryNumber: m === 2 ? 3 : 1 })),
    };
    const started: unknown[] = [];
    const sm = new StateMachine(withPartition(compileLifecycleMachine('partitions', OPTIONS).definition) as unknown as LocalDefinition, { validationOptions: { checkArn: false } });
    const ex = sm.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: {
          StartIteration: async (input) => {
            const p = input as { Name: string; Input: unknown };
            started.push(p);
            // Partition 1's execution exists already (a replayed dispatch).
            if (p.Name === 'flag_1-t1-abc') throw Object.assign(new Error('Execution Already Exists'), { name: 'StepFunctions.ExecutionAlreadyExistsException' });
            return { ExecutionArn: `arn:x:${p.Name}` };
          },
        },
      },
    });
    expect(await ex.result).toStrictEqual(input);
    expect(started).toStrictEqual(
      input.instances.map((i) => ({ StateMachineArn: '${IterateMachineArn}', Name: i.name, Input: partitionLifecycleInput(input, i) })),
    );
    expect(partitionLifecycleInput(input, input.instances[2]!)).toStrictEqual({
      key: { dagId: 'nightly', runId: 'manual__1', taskId: 'flag', mapIndex: 2 },
      dagId: 'nightly',
      tryNumber: 3,
      settings: { concurrency: 8, itemRetries: 2, itemRetryDelays: [1, 2], maxConcurrency: 2 },
    });
  });

  it('one execution\'s instances stay far under the 256 KiB state payload limit', () => {
    const input: PartitionsInput = {
      dagId: 'd'.repeat(250),
      runId: 'r'.repeat(250),
      taskId: 't'.repeat(250),
      settings: { concurrency: 10_000, itemRetries: 10, itemRetryDelays: [1, 2, 4, 8, 16, 32, 60, 60, 60, 60], maxConcurrency: 10_000 },
      instances: Array.from({ length: PARTITIONS_PER_EXECUTION }, (_, m) => ({ name: `${'x'.repeat(62)}-${'0'.repeat(16)}-r10`, mapIndex: 1_000_000 + m, tryNumber: 100 })),
    };
    expect(Buffer.byteLength(JSON.stringify(input))).toBeLessThan(200 * 1024);
  });
});
