import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { ENV } from '../lib/aws/services.ts';
import { mergeStatements, type PolicyStatement } from '../lib/compiler/iam.ts';
import { compileReconciler, DEFAULT_RECONCILE_INTERVAL_SECONDS } from '../lib/compiler/reconciler.ts';
import { resolveStatements, type PolicyContext } from './policy-statements.ts';

export interface AirlessReconcilerProps {
  /**
   * The scheduler function: each round invokes it with `{type: 'reconcile', loop}`. It must not be one of
   * the `armers`: its policy would name this state machine, whose definition names it (a dependency cycle).
   */
  scheduler: lambda.IFunction;
  /**
   * The functions that make runs active (the trigger, the API, the task runner for a task that triggers
   * a DAG): each gets `states:StartExecution` on the state machine and the environment variables
   * `RECONCILER_ARN` and `RECONCILE_INTERVAL_SECONDS`, and is created after the state machine's policy.
   */
  armers: readonly lambda.Function[];
  /**
   * Time between two rounds of the loop (whole seconds).
   * @default 5 minutes
   */
  interval?: Duration;
  /**
   * X-Ray tracing of the state machine.
   * @default false
   */
  tracing?: boolean;
  /**
   * The state machine's name.
   * @default one CDK generates (unique in the account and region)
   */
  stateMachineName?: string;
}

/**
 * The reconciler of a stack (lib/compiler/reconciler.ts): a Standard state machine that runs only while
 * runs are active, started by the functions that make a run active (they arm it: lib/aws/reconciler.ts),
 * and no schedule. Its role gets exactly the statements its definition declares (invoke the scheduler,
 * start an execution of itself to continue as new), in a policy of its own: the statement naming the
 * state machine cannot be in the role's default policy, which the state machine depends on.
 */
export class AirlessReconciler extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly role: iam.Role;
  /** The role's policy: the statements the definition declares, resolved. */
  readonly policy: iam.Policy;
  /** What the definition declares (lib/compiler/iam.ts), merged. */
  readonly statements: PolicyStatement[];
  /** How the statements' placeholders resolve here. */
  readonly policyContext: PolicyContext;
  /** Seconds between two rounds. */
  readonly intervalSeconds: number;

  constructor(scope: Construct, id: string, props: AirlessReconcilerProps) {
    super(scope, id);
    const interval = (props.interval ?? Duration.seconds(DEFAULT_RECONCILE_INTERVAL_SECONDS)).toMilliseconds() / 1000;
    if (!Number.isInteger(interval) || interval < 1) throw new Error(`the reconciler's interval must be a whole number of seconds, at least 1 (got ${interval} s)`);
    this.intervalSeconds = interval;
    const schedulerNode = props.scheduler.node;
    if (props.armers.some((fn) => fn.node === schedulerNode)) {
      throw new Error(`the scheduler function (${props.scheduler.node.path}) cannot arm the reconciler: its policy would name the reconciler, whose definition names it`);
    }
    const stack = Stack.of(this);
    const compiled = compileReconciler({ schedulerArn: '${SchedulerArn}' });
    this.statements = mergeStatements(compiled.statements);

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'airless reconciler: invoke the scheduler, continue as new',
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      ...(props.stateMachineName !== undefined ? { stateMachineName: props.stateMachineName } : {}),
      stateMachineType: compiled.workflowType.type === 'EXPRESS' ? sfn.StateMachineType.EXPRESS : sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(compiled.definition)),
      definitionSubstitutions: { SchedulerArn: props.scheduler.functionArn, Partition: Stack.of(this).partition },
      role: this.role,
      tracingEnabled: props.tracing ?? false,
    });
    this.policyContext = {
      placeholders: {
        SchedulerArn: props.scheduler.functionArn,
        'AWS::Partition': stack.partition,
        'AWS::Region': stack.region,
        'AWS::AccountId': stack.account,
        StateMachineName: this.stateMachine.stateMachineName,
      },
      deployment: { batchJobQueuesAndDefinitions: [], largeValueObjects: [] },
    };
    this.policy = new iam.Policy(this, 'Policy', { roles: [this.role], statements: resolveStatements(this.statements, this.policyContext) });

    for (const fn of props.armers) {
      this.stateMachine.grantStartExecution(fn);
      fn.addEnvironment(ENV.reconcilerArn, this.stateMachine.stateMachineArn);
      fn.addEnvironment(ENV.reconcileIntervalSeconds, String(interval));
      // Nothing starts the loop before its role may run it.
      fn.node.addDependency(this.policy);
    }

    NagSuppressions.addResourceSuppressions(this.stateMachine, [
      {
        id: 'AwsSolutions-SF1',
        reason: 'A Standard execution keeps its full event history in Step Functions; logging every event to CloudWatch as well would add a cost per transition.',
      },
      ...(props.tracing ? [] : [{ id: 'AwsSolutions-SF2', reason: 'X-Ray tracing is billed per trace: off by default, on with the stack prop `tracing`.' }]),
    ]);
    if (props.tracing) {
      NagSuppressions.addResourceSuppressions(
        this.role,
        [{ id: 'AwsSolutions-IAM5', reason: 'X-Ray tracing needs xray:PutTraceSegments and the like, which take no resource.', appliesTo: ['Resource::*'] }],
        true,
      );
    }
  }
}
