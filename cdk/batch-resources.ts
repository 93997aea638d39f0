import { Annotations, Stack, Token } from 'aws-cdk-lib';
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
 * Characters of the longest ARN prefix of a Batch resource in any partition, region and account:
 * `arn:aws-us-gov:batch:ap-southeast-7:123456789012:` (partition and region the longest there are).
 */
const ARN_PREFIX_MAX = 'arn:aws-us-gov:batch:ap-southeast-7:123456789012:'.length;

/** Characters of an ARN whose value is only known at deploy time (a created queue's `Ref`): a queue ARN with a 128-character name. */
const UNKNOWN_ARN_MAX = ARN_PREFIX_MAX + 'job-queue/'.length + 128;

/**
 * Characters (whitespace removed, as IAM counts them) a managed policy of SubmitJob chunks may use: under
 * IAM's 6,144 for a managed policy, with room for an estimate that is off by a few characters.
 */
export const SUBMIT_POLICY_MAX_CHARS = 6000;

/** The policy document around a chunk's resources: `{"Version":...,"Statement":[{"Effect":...,"Action":...,"Resource":[` and `]}]}`. */
const SUBMIT_POLICY_OVERHEAD = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'batch:SubmitJob', Resource: [] }] }).length;

/** Managed policies a role may have (IAM's default quota; 20 with an increase). */
export const ROLE_MANAGED_POLICIES_MAX = 10;

/**
 * Split ARNs into chunks whose SubmitJob policy documents stay under `budget` characters (default
 * {@link SUBMIT_POLICY_MAX_CHARS}), given each ARN's largest length once deployed. Order is kept. Throws
 * on one ARN too long for any chunk.
 */
export function chunkByPolicySize<T>(items: readonly T[], maxLength: (item: T) => number, budget = SUBMIT_POLICY_MAX_CHARS): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = SUBMIT_POLICY_OVERHEAD;
  for (const item of items) {
    const n = maxLength(item) + 3; // its quotes and the comma
    if (SUBMIT_POLICY_OVERHEAD + n > budget) throw new Error(`a SubmitJob resource of ${n - 3} characters does not fit in one managed policy (${budget} characters)`);
    if (size + n > budget) {
      chunks.push(current);
      current = [];
      size = SUBMIT_POLICY_OVERHEAD;
    }
    current.push(item);
    size += n;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/**
 * The Batch side of the stack: the queues (created or existing), the ARNs a submission may name (what
 * the compiled `batch:submitJob.sync` states' `batchJobQueuesAndDefinitions` stands for), the managed
 * policies that allow SubmitJob on them, and, in poll mode, the task runner's grant to submit and
 * describe jobs.
 *
 * SubmitJob's resources are every queue and definition the DAGs (and the props) name: at 100 pairs they
 * are tens of thousands of characters, more than one managed policy (6,144) or a role's inline policies
 * (10,240 in all) can hold. They go to customer managed policies of at most {@link SUBMIT_POLICY_MAX_CHARS}
 * characters each (counted with the longest partition and region), made once and attached to every role
 * that submits ({@link grantSubmit}).
 */
export class BatchResources extends Construct {
  /** ARNs SubmitJob may name: the job queues and job definitions (no job queue or definition known: none). */
  readonly submitResources: string[];
  readonly queues: batch.JobQueue[] = [];
  readonly tasks: number;
  /** The largest length each of {@link submitResources} has once deployed. */
  private readonly submitLengths = new Map<string, number>();
  private submitPoliciesMade: iam.ManagedPolicy[] | undefined;

  constructor(scope: Construct, id: string, props: { dags: readonly DagSpec[]; batch: AirlessBatchProps }) {
    super(scope, id);
    const stack = Stack.of(this);
    const names = batchNamesOf(props.dags);
    this.tasks = names.tasks;
    const arn = (resource: string, name: string) => {
      // A token (a construct's `jobQueueArn`, `jobDefinitionArn`) is an ARN.
      const value = name.startsWith('arn:') || Token.isUnresolved(name) ? name : stack.formatArn({ service: 'batch', resource, resourceName: name });
      const length = Token.isUnresolved(name) ? UNKNOWN_ARN_MAX : name.startsWith('arn:') ? name.length : ARN_PREFIX_MAX + resource.length + 1 + name.length;
      this.submitLengths.set(value, Math.max(length, this.submitLengths.get(value) ?? 0));
      return value;
    };
    const defArns = [...new Set([...names.jobDefinitions, ...(props.batch.jobDefinitions ?? [])])].flatMap((d) =>
      // A definition named without a revision is submitted at its latest active revision.
      d.startsWith('arn:') || d.includes(':') || Token.isUnresolved(d) ? [arn('job-definition', d)] : [arn('job-definition', d), arn('job-definition', `${d}:*`)],
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
      queueArns = this.queues.map((q, i) => {
        const name = queueNames[i]!;
        this.submitLengths.set(q.jobQueueArn, Token.isUnresolved(name) ? UNKNOWN_ARN_MAX : ARN_PREFIX_MAX + 'job-queue/'.length + name.length);
        return q.jobQueueArn;
      });
    }
    this.submitResources = [...queueArns, ...defArns];
  }

  /**
   * The customer managed policies that allow SubmitJob on {@link submitResources}: one statement each,
   * each under {@link SUBMIT_POLICY_MAX_CHARS} characters however long the partition and region. Made
   * on first use, shared by every role {@link grantSubmit} is given.
   */
  get submitPolicies(): readonly iam.ManagedPolicy[] {
    if (this.submitPoliciesMade) return this.submitPoliciesMade;
    const chunks = chunkByPolicySize(this.submitResources, (r) => this.submitLengths.get(r) ?? UNKNOWN_ARN_MAX);
    this.submitPoliciesMade = chunks.map((resources, i) => {
      const policy = new iam.ManagedPolicy(this, `SubmitJob${i + 1}`, {
        description: `airless: batch:SubmitJob on the job queues and job definitions the DAGs name (part ${i + 1} of ${chunks.length})`,
        statements: [new iam.PolicyStatement({ actions: ['batch:SubmitJob'], resources })],
      });
      NagSuppressions.addResourceSuppressions(policy, [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'A job definition named without a revision is submitted at its latest (job-definition/<name>:*): only the definitions the DAGs and the stack props name.',
          appliesTo: [{ regex: '/^Resource::arn:(<AWS::[A-Za-z]+>|[^:<>]+):batch:(<AWS::[A-Za-z]+>|[^:<>]+):(<AWS::[A-Za-z]+>|[^:<>]+):job-definition\\/[A-Za-z0-9_-]+:\\*$/g' }],
        },
      ]);
      return policy;
    });
    if (chunks.length >= ROLE_MANAGED_POLICIES_MAX) {
      Annotations.of(this).addWarningV2(
        'airless:batch:submitPolicies',
        `SubmitJob on ${this.submitResources.length} job queues and definitions takes ${chunks.length} managed policies: with the role's own, more than IAM's default ${ROLE_MANAGED_POLICIES_MAX} per role (ask for a quota increase, up to 20, or name fewer queues and definitions)`,
      );
    }
    return this.submitPoliciesMade;
  }

  /** Allow a role SubmitJob on every queue and definition: the shared {@link submitPolicies} attached to it. Nothing when none is known. */
  grantSubmit(role: iam.IRole): void {
    for (const policy of this.submitPolicies) policy.attachToRole(role);
  }

  /** Whether anything can be submitted (the DAGs have Batch tasks, or queues are known). */
  get enabled(): boolean {
    return this.tasks > 0 && this.submitResources.length > 0;
  }

  /** Poll mode: the task runner submits (tagged with its owner try), finds a job it submitted, and describes jobs. */
  grantSubmitAndDescribe(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const role = grantee.grantPrincipal;
    if (!iam.Role.isRole(role)) throw new Error(`SubmitJob is granted to roles (its managed policies are attached to them), got a principal of kind ${role.constructor.name}`);
    this.grantSubmit(role);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['batch:TagResource'], resources: [stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['batch:ListJobs', 'batch:DescribeJobs'], resources: ['*'] }));
  }
}
