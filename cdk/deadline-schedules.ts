// Deadline alerts deployed: each deadline of a run is a one-time EventBridge Scheduler schedule
// (lib/aws/deadline-schedules.ts) in a schedule group of the stack, invoking the scheduler function with the
// timer event through a role that may invoke that function and nothing else. The functions that run
// scheduler steps (which arm a run's deadlines when they create it, and delete them when it ends) may create
// and delete schedules in that group only, and pass that role only, to EventBridge Scheduler only. Nothing
// of this when no DAG declares a deadline.

import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { DEADLINE_SCHEDULE_ENV } from '../lib/aws/deadline-schedules.ts';
import type { DagSpec } from '../lib/model/spec.ts';

export interface DeadlineSchedulesProps {
  /** The schedule group's name (1 to 64 of `[0-9a-zA-Z-_.]`). */
  groupName: string;
  /** The function the schedules invoke: the one that takes timer events. */
  target: lambda.IFunction;
  /** The functions that arm and delete deadline schedules (every function that runs scheduler steps, `target` included). */
  grantees: readonly lambda.Function[];
}

/** Whether some DAG declares a deadline. */
export function declaresDeadlines(specs: readonly DagSpec[]): boolean {
  return specs.some((s) => (s.deadlines?.length ?? 0) > 0);
}

/** The schedule group, the Scheduler execution role, the grantees' permissions and environment. */
export class DeadlineSchedules extends Construct {
  readonly group: scheduler.CfnScheduleGroup;
  /** The role EventBridge Scheduler assumes to invoke the target. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: DeadlineSchedulesProps) {
    super(scope, id);
    if (!/^[0-9a-zA-Z_.-]{1,64}$/.test(props.groupName)) throw new Error(`deadline schedule group name '${props.groupName}' must be 1 to 64 of [0-9a-zA-Z-_.]`);
    const stack = Stack.of(this);
    this.group = new scheduler.CfnScheduleGroup(this, 'Group', { name: props.groupName });
    this.role = new iam.Role(this, 'Role', {
      description: 'EventBridge Scheduler: invoke the airless scheduler function at a run\'s deadline',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
    });
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.target.functionArn] }));
    const schedules = stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${props.groupName}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    // The function's ARN without its name: the target's own environment cannot hold its own ARN (a cycle), so
    // the target finds itself from AWS_LAMBDA_FUNCTION_NAME.
    const functionArnPrefix = stack.formatArn({ service: 'lambda', resource: 'function', resourceName: '', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    for (const fn of props.grantees) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'], resources: [schedules] }));
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [this.role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } } }),
      );
      fn.addEnvironment(DEADLINE_SCHEDULE_ENV.groupName, props.groupName);
      fn.addEnvironment(DEADLINE_SCHEDULE_ENV.roleArn, this.role.roleArn);
      if (fn === props.target) fn.addEnvironment(DEADLINE_SCHEDULE_ENV.functionArnPrefix, functionArnPrefix);
      else fn.addEnvironment(DEADLINE_SCHEDULE_ENV.targetArn, props.target.functionArn);
      NagSuppressions.addResourceSuppressions(
        fn,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason: 'Deadline schedules are named at run time (from the run and the deadline): create and delete in the stack\'s own deadline schedule group only (schedule/<group>/*).',
            appliesTo: [{ regex: `/^Resource::arn:<AWS::Partition>:scheduler:.*:schedule\\/${props.groupName.replace(/[.]/g, '\\.')}\\/\\*$/g` }],
          },
        ],
        true,
      );
    }
  }
}
