import { Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { DagSpec } from '../lib/model/spec.ts';

/**
 * Where the DAGs' Batch jobs run.
 * - `existing` (default): job queues and job definitions that already exist in the account. The stack
 *   only grants access to them: the ones the DAGs name in `batchJob()` (`jobQueue`, `jobDefinition`) and
 *   the ones listed here (names or ARNs; for jobs whose queue or definition a task's input gives at run
 *   time).
 * - `fargate`: the stack creates a Fargate compute environment and one job queue per queue name the DAGs
 *   use (or `jobQueueNames`), in `vpc` or in a new VPC with public subnets only (no NAT gateway, so no cost
 *   at rest: job definitions must then assign a public IP to reach ECR and CloudWatch Logs). Job
 *   definitions stay yours (the DAGs name them; grant more with `jobDefinitions`).
 */
export type AirlessBatchProps =
  | {
      mode: 'existing';
      /**
       * More job queues SubmitJob may name (names or ARNs), for queues a task's input gives at run time.
       * @default [] (the queues the DAGs name)
       */
      jobQueues?: readonly string[];
      /**
       * More job definitions SubmitJob may name (names or ARNs).
       * @default [] (the definitions the DAGs name)
       */
      jobDefinitions?: readonly string[];
    }
  | {
      mode: 'fargate';
      /**
       * The VPC of the compute environment.
       * @default a new VPC, 2 AZs, public subnets only
       */
      vpc?: ec2.IVpc;
      /**
       * Most vCPUs the compute environment runs at once.
       * @default 256
       */
      maxvCpus?: number;
      /**
       * Fargate Spot.
       * @default false
       */
      spot?: boolean;
      /**
       * The job queues the stack creates.
       * @default the queue names the DAGs use, or `airless` when they name none
       */
      jobQueueNames?: readonly string[];
      /**
       * More job definitions SubmitJob may name (names or ARNs).
       * @default [] (the definitions the DAGs name)
       */
      jobDefinitions?: readonly string[];
    };

/** The job queues and job definitions the DAGs name statically. */
export function batchNamesOf(dags: readonly DagSpec[]): { jobQueues: string[]; jobDefinitions: string[]; tasks: number } {
  const queues = new Set<string>();
  const defs = new Set<string>();
  let tasks = 0;
  for (const d of dags) {
    for (const t of d.tasks) {
      if (t.kind !== 'batch') continue;
      tasks++;
      if (t.batch.jobQueue) queues.add(t.batch.jobQueue);
      if (t.batch.jobDefinition) defs.add(t.batch.jobDefinition);
    }
  }
  return { jobQueues: [...queues].sort(), jobDefinitions: [...defs].sort(), tasks };
}

/**
 * The Batch side of the stack: the queues (created or existing), the ARNs a submission may name (what
 * the compiled `batch:submitJob.sync` states' `batchJobQueuesAndDefinitions` stands for), and, in poll
 * mode, the task runner's grant to submit and describe jobs.
 */
export class BatchResources extends Construct {
  /** ARNs SubmitJob may name: the job queues and job definitions (no job queue or definition known: none). */
  readonly submitResources: string[];
  readonly queues: batch.JobQueue[] = [];
  readonly tasks: number;

  constructor(scope: Construct, id: string, props: { dags: readonly DagSpec[]; batch: AirlessBatchProps }) {
    super(scope, id);
    const stack = Stack.of(this);
    const names = batchNamesOf(props.dags);
    this.tasks = names.tasks;
    const arn = (resource: string, name: string) =>
      name.startsWith('arn:') ? name : stack.formatArn({ service: 'batch', resource, resourceName: name });
    const defArns = [...new Set([...names.jobDefinitions, ...(props.batch.jobDefinitions ?? [])])].flatMap((d) =>
      // A definition named without a revision is submitted at its latest active revision.
      d.startsWith('arn:') || d.includes(':') ? [arn('job-definition', d)] : [arn('job-definition', d), arn('job-definition', `${d}:*`)],
    );
    let queueArns: string[];
    if (props.batch.mode === 'existing') {
      queueArns = [...new Set([...names.jobQueues, ...(props.batch.jobQueues ?? [])])].map((q) => arn('job-queue', q));
    } else {
      let vpc = props.batch.vpc;
      if (!vpc) {
        const created = new ec2.Vpc(this, 'Vpc', {
          maxAzs: 2,
          natGateways: 0,
          subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
        });
        // CDK's classes declare optional fields as `T | undefined`, which exactOptionalPropertyTypes
        // does not take for its interfaces' `field?: T`: the class is its interface all the same.
        vpc = created as unknown as ec2.IVpc;
        NagSuppressions.addResourceSuppressions(created, [
          { id: 'AwsSolutions-VPC7', reason: 'The VPC only hosts Batch Fargate tasks; flow logs would add a standing cost. Pass your own VPC (batch.vpc) to have them.' },
        ]);
      }
      const compute = new batch.FargateComputeEnvironment(this, 'Fargate', {
        vpc,
        vpcSubnets: { subnetType: props.batch.vpc ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC },
        maxvCpus: props.batch.maxvCpus ?? 256,
        spot: props.batch.spot ?? false,
      });
      const queueNames = props.batch.jobQueueNames ?? (names.jobQueues.length ? names.jobQueues : ['airless']);
      queueNames.forEach((name, i) => {
        this.queues.push(new batch.JobQueue(this, `Queue${i}`, { jobQueueName: name, computeEnvironments: [{ computeEnvironment: compute, order: 1 }] }));
      });
      queueArns = this.queues.map((q) => q.jobQueueArn);
    }
    this.submitResources = [...queueArns, ...defArns];
  }

  /** Whether anything can be submitted (the DAGs have Batch tasks, or queues are known). */
  get enabled(): boolean {
    return this.tasks > 0 && this.submitResources.length > 0;
  }

  /** Poll mode: the task runner submits (tagged with its owner try), finds a job it submitted, and describes jobs. */
  grantSubmitAndDescribe(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    if (this.submitResources.length) grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['batch:SubmitJob'], resources: this.submitResources }));
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['batch:TagResource'], resources: [stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['batch:ListJobs', 'batch:DescribeJobs'], resources: ['*'] }));
  }
}
