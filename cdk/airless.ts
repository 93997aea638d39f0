import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, TimeZone, type CfnElement, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions, type NagPackSuppression } from 'cdk-nag';
import { Construct, type IConstruct } from 'constructs';
import { timeSchedule, type DagSpec } from '../lib/model/spec.ts';
import { DEFAULT_BATCH_WATCH_INTERVAL_SECONDS, DEFAULT_BUNDLES_PREFIX, ENV } from '../lib/aws/services.ts';
import { DEFAULT_VERSIONS_RETAINED } from '../lib/scheduler/prune-versions.ts';
import { API_URL_DESCRIPTION, API_URL_OUTPUT } from '../lib/cli/stack-endpoint.ts';
import { namePrefix, StateMachineNaming } from '../lib/aws/sfn-dispatcher.ts';
import { compileBatchWatcher } from '../lib/compiler/batch-watcher.ts';
import { compileLifecycleMachines, deployedMachines, type CompiledMachine } from '../lib/compiler/compile.ts';
import { MACHINE_WORKFLOW_TYPE, type LifecycleMachine } from '../lib/compiler/workflow-type.ts';
import { ITEM_LISTS_FOLDER } from '../lib/compiler/contract.ts';
import { mergeStatements, namesOwnStateMachine, type PolicyStatement } from '../lib/compiler/iam.ts';
import { EXPIRED_TAG } from '../lib/store/large-values.ts';
import { PK, SK, TABLE_GLOBAL_SECONDARY_INDEXES, TTL_ATTRIBUTE } from '../lib/store/table-design.ts';
import { BatchResources, type AirlessBatchProps } from './batch-resources.ts';
import { prepareDagsSync } from './prepare-dags.ts';
import { AirlessReconciler } from './reconciler.ts';
import { grantNotifiers } from './notifier-grants.ts';
import { declaresDeadlines, DeadlineSchedules } from './deadline-schedules.ts';
import { applyStatements, type PolicyContext } from './policy-statements.ts';
import { eventBridgeSchedule } from './schedule-expression.ts';
import { compileTimerMachine } from './timer-definition.ts';
import { AirlessPools, type AirlessPoolProps } from './pools.ts';
import { AssetWatchers, hasDeployedWatchers } from './asset-watchers.ts';
import { grantSecrets, type AirlessSecretsProps } from './secrets.ts';

/** What the store does to the table (lib/store/dynamodb-store.ts): no Scan, no streams, no table management. */
export const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];
/** The key prefix of large values in the bucket (S3LargeValueStore's default). */
export const LARGE_VALUE_PREFIX = 'airless';

/** IAM5 findings of Batch grants (any partition, region and account). */
/** A partition, region or account in an ARN as cdk-nag prints it: a pseudo parameter or a literal. */
const ARN_PART = '(<AWS::[A-Za-z]+>|[^:<>]+)';
const BATCH_WILDCARDS = [
  { regex: `/^Resource::arn:${ARN_PART}:batch:${ARN_PART}:${ARN_PART}:job\\/\\*$/g` },
  { regex: `/^Resource::arn:${ARN_PART}:batch:${ARN_PART}:${ARN_PART}:job-definition\\/[A-Za-z0-9_-]+:\\*$/g` },
];

/** IAM5 findings of grants on the executions of the stack's own state machines (`<prefix>-<machine>:*`). */
function stateMachineWildcard(prefix: string): { regex: string } {
  return { regex: `/^Resource::arn:${ARN_PART}:states:${ARN_PART}:${ARN_PART}:execution:${prefix}-[a-z-]+:\\*$/g` };
}

/** IAM5 findings of a grant on one state machine's executions (`<name>:*`) and its Distributed Map's child executions (`<name>/*`). */
function ownExecutionsWildcard(name: string): { regex: string } {
  return { regex: `/^Resource::arn:${ARN_PART}:states:${ARN_PART}:${ARN_PART}:execution:${name.replace(/[^A-Za-z0-9_]/g, (c) => `\\${c}`)}(:|\\/)\\*$/g` };
}

/**
 * Whether this module is the repository's source (`cdk/airless.ts`) or the installed package's build
 * (`dist/cdk/airless.js`): the functions' entries are the same kind of file beside it.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** The functions' entries: `functions/*.ts` of the repository, `dist/functions/*.js` of the package. */
const FUNCTIONS_DIR = fileURLToPath(new URL('../functions/', import.meta.url));
/**
 * The repository's tsconfig (its `paths` make the DAGs' `'airless'` the library's source), when bundling from
 * the source; the package's DAG files resolve `'airless'` from their project's node_modules.
 */
const SOURCE_TSCONFIG = FROM_SOURCE ? fileURLToPath(new URL('../tsconfig.json', import.meta.url)) : undefined;

/** The functions of the stack, by the file of `functions/` that is each one's entry. */
export const FUNCTION_FILES = {
  scheduler: 'scheduler',
  trigger: 'trigger',
  taskRunner: 'task-runner',
  sensorPoke: 'sensor-poke',
  describeJobs: 'describe-jobs',
  api: 'api',
} as const;
export type FunctionName = keyof typeof FUNCTION_FILES;
/** The asset-events function's entry: made only when a DAG's asset has an S3, SQS or EventBridge watcher (cdk/asset-watchers.ts). */
export const ASSET_EVENTS_FUNCTION_FILE = 'asset-events';

/** The runtime of every function: Node.js 22, the Node the project and its tests run on. */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_22_X;

export interface AirlessFunctionOptions {
  /**
   * Memory of the function, in MB.
   * @default task runner and sensor poke 1,024 MB, the others 512 MB
   */
  memorySize?: number;
  /**
   * Timeout of the function.
   * @default task runner 15 minutes, sensor poke and scheduler and trigger 5 minutes, describe-jobs and api 1 minute,
   * asset events 30 seconds (an SQS watcher's queue needs a visibility timeout at least that long)
   */
  timeout?: Duration;
}

/**
 * The DAGs a construct deploys, loaded and bundled ahead (`prepareDags`): their specs, the generated
 * `airless-dags` module the functions' bundles import them from, and the folder of their version bundles.
 */
export interface PreparedDags {
  /**
   * The DAGs folder they were loaded from (absolute).
   * @default unknown: the project root is then found from the current directory
   */
  readonly folder?: string;
  /** The DAGs' specs (a DagBag's `dags[].spec`, loaded without import errors). */
  readonly specs: readonly DagSpec[];
  /**
   * The `airless-dags` module (cdk/dags-module.ts `writeDagsModule`) the functions' bundles import the
   * DAGs from.
   */
  readonly dagsModule: string;
  /**
   * The folder of the DAG files' version bundles (cdk/version-bundles.ts `buildVersionBundles`: one
   * `<hash>/` folder per file), deployed to the bucket under `airless/bundles/` and never removed by a later
   * deploy (runs in flight keep their code): the reconciler prunes them once no run needs them.
   * @default none: no bundle is deployed, and a run whose version is not the bundled one cannot load it
   */
  readonly versionBundles?: string;
}

/** The props of the {@link Airless} construct. */
export interface AirlessProps {
  /**
   * The folder of DAG files to deploy (relative to the current directory). It is loaded when the construct
   * is made (in a child process: a DAG file that fails to import fails the synth with its error, and nothing
   * is synthesized); each file's code is bundled into the functions with every npm package it imports.
   * @default `AIRLESS_DAGS_FOLDER`, else `dags`
   */
  readonly dagsFolder?: string;
  /**
   * DAGs loaded ahead with `await prepareDags(folder)` (in this process), instead of `dagsFolder`.
   * @default the DAGs of `dagsFolder`
   */
  readonly dags?: PreparedDags;
  /**
   * The project the DAG files belong to: esbuild resolves their packages from its `node_modules`, and its
   * lock file keys the bundling cache.
   * @default the nearest folder above the DAGs folder with a lock file (package-lock.json, yarn.lock,
   * pnpm-lock.yaml, bun.lockb), else the current directory
   */
  readonly projectRoot?: string;
  /**
   * How many of each DAG's newest versions keep their code in the bucket beside the current one and those
   * active runs use (so clearing a recent run reruns its own code).
   * @default DEFAULT_VERSIONS_RETAINED (10)
   */
  readonly versionsRetained?: number;
  /**
   * Prefix of the state machines' names (letters, digits and '-', 56 at most).
   * @default the stack name (its first 32 letters, digits and '-') and a hash of the stack name and the
   * construct's path: unique to the construct, so two never share a state machine or log group name
   */
  readonly namePrefix?: string;
  /**
   * How Batch tasks wait for their job: `sync` (`batch:submitJob.sync`) or `poll` (a Batch watcher).
   * @default 'sync'
   */
  readonly batchWatch?: 'sync' | 'poll';
  /**
   * How iterations run their items: `inline` or `distributed` (a Distributed Map).
   * @default 'inline'
   */
  readonly iterateMode?: 'inline' | 'distributed';
  /**
   * Where Batch jobs run: `{ mode: 'existing', jobQueues, jobDefinitions }` submits to queues and definitions
   * you have (made beside this construct: the ones the DAGs' `batchJob` tasks name, and these names or ARNs,
   * e.g. `queue.jobQueueArn`); `{ mode: 'fargate', vpc, ... }` makes a Fargate compute environment (in your
   * VPC, or a new one) and the queues the DAGs name.
   * @default `{ mode: 'existing' }`
   */
  readonly batch?: AirlessBatchProps;
  /**
   * Days a finished run's XComs, item results and logs are kept (table TTL; large values in the bucket too).
   * @default 30
   */
  xcomRetentionDays?: number;
  /**
   * What happens to the table and the bucket when the stack is deleted.
   * @default RETAIN
   */
  removalPolicy?: RemovalPolicy;
  /**
   * Retention of the functions' and Express state machines' logs.
   * @default one month
   */
  logRetention?: logs.RetentionDays;
  /**
   * Time between two rounds of the reconcile, which repairs what lost events left behind. The reconcile
   * runs only while runs are active (the first run arms it, it stops once none is left).
   * @default 5 minutes
   */
  reconcileInterval?: Duration;
  /**
   * X-Ray tracing of functions and state machines.
   * @default false (tracing is billed per trace)
   */
  tracing?: boolean;
  /**
   * Seconds between two DescribeJobs rounds of a Batch watcher.
   * @default 30
   */
  batchWatchIntervalSeconds?: number;
  /**
   * Memory and timeout per function.
   * @default each function's own (see {@link AirlessFunctionOptions})
   */
  functions?: Partial<Record<FunctionName | 'assetEvents', AirlessFunctionOptions>>;
  /**
   * Principals allowed to call the REST API (its Function URL checks IAM: they get lambda:InvokeFunctionUrl
   * and lambda:InvokeFunction on the API function). Without them, give your users' roles those two
   * actions on the `ApiFunctionArn` output instead.
   * @default []
   */
  apiCallers?: iam.IGrantable[];
  /**
   * Pools by name, written to the table at deploy (when declared, or when their slots or description change
   * here; a pool removed from here is deleted, but default_pool, which always exists). Between deploys,
   * `airless pools set --stack NAME` changes them. E.g. `{ api_throttle: { slots: 4, description: 'vendor API' } }`.
   * @default {} (default_pool alone, 128 slots)
   */
  pools?: Record<string, AirlessPoolProps>;
  /**
   * A secrets backend (SSM Parameter Store or Secrets Manager, under prefixes) where tasks read variables
   * and connections, after their environment and before the table; the task functions may read those
   * prefixes only.
   * @default none: tasks read their environment and the table (managed through the API and the CLI)
   */
  secrets?: AirlessSecretsProps;
  /**
   * Buckets of your stack that the DAGs' S3 asset watchers watch: the construct turns their EventBridge
   * notifications on. A watched bucket not given here needs them on already (`eventBridgeEnabled: true`).
   * @default []
   */
  assetBuckets?: s3.IBucket[];
}

/** The props of an {@link AirlessStack}: a stack of its own holding one {@link Airless} construct. */
export interface AirlessStackProps extends StackProps, AirlessProps {}

const FUNCTION_DEFAULTS: Record<FunctionName | 'assetEvents', { memorySize: number; timeout: Duration }> = {
  scheduler: { memorySize: 512, timeout: Duration.minutes(5) },
  trigger: { memorySize: 512, timeout: Duration.minutes(5) },
  taskRunner: { memorySize: 1024, timeout: Duration.minutes(15) },
  sensorPoke: { memorySize: 1024, timeout: Duration.minutes(5) },
  describeJobs: { memorySize: 512, timeout: Duration.minutes(1) },
  api: { memorySize: 512, timeout: Duration.minutes(1) },
  assetEvents: { memorySize: 512, timeout: Duration.seconds(30) },
};

/**
 * airless for a folder of DAGs, in a stack of yours beside your own resources (your VPC, Batch queues,
 * buckets):
 *
 * ```ts
 * const stack = new Stack(app, 'Pipelines');
 * new Airless(stack, 'Airless', { dagsFolder: 'dags', batch: { mode: 'existing', jobQueues: [queue.jobQueueArn] } });
 * ```
 *
 * It holds the table (run state), the bucket (large values and the DAG versions' code), the functions
 * (thin handlers over the library, the DAG files bundled in with the npm packages they import), the fixed
 * set of lifecycle state machines (one per lifecycle shape, whatever the DAGs), the timer and the Batch
 * watcher state machines, one EventBridge Scheduler schedule per scheduled DAG, the reconcile loop (only
 * while runs are active), the REST API's Function URL, and least-privilege IAM between them. The stack's
 * outputs `<id>ApiUrl` and `<id>ApiFunctionArn` name the API (`airless ... --stack <stack name>`).
 */
export class Airless extends Construct {
  readonly table: dynamodb.Table;
  readonly bucket: s3.Bucket;
  readonly functions: Record<FunctionName, NodejsFunction>;
  /** The asset-events function and the watchers' rules and queues; undefined when no DAG's asset has a deployed watcher. */
  readonly assetWatchers: { function: NodejsFunction; watchers: AssetWatchers } | undefined;
  /** The REST API's Function URL (AuthType AWS_IAM: callers sign with SigV4 and need lambda:InvokeFunctionUrl on it). */
  readonly apiUrl: lambda.FunctionUrl;
  /**
   * The shared lifecycle state machines (a fixed set, whatever the DAGs: a task's execution carries its
   * own settings), with the role each runs as.
   */
  readonly lifecycles = new Map<LifecycleMachine, { machine: sfn.StateMachine; compiled: CompiledMachine; role: iam.Role }>();
  readonly timer: sfn.StateMachine;
  readonly batchWatcher: sfn.StateMachine;
  /**
   * What each state machine role was granted: the statements its state machines' definitions declare
   * (merged), and how their placeholders resolve in this stack.
   */
  readonly declaredStatements: ReadonlyMap<iam.Role, { statements: PolicyStatement[]; context: PolicyContext }>;
  readonly schedules = new Map<string, scheduler.Schedule>();
  /** The deadline alerts' schedule group and Scheduler role; undefined when no DAG declares a deadline. */
  readonly deadlineSchedules: DeadlineSchedules | undefined;
  /** The reconcile loop, armed while runs are active. */
  readonly reconciler: AirlessReconciler;
  readonly naming: StateMachineNaming;
  readonly batch: BatchResources;

  /** The DAGs deployed (their specs). */
  readonly dags: readonly DagSpec[];

  constructor(scope: Construct, id: string, props: AirlessProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const dags = props.dags ?? prepareDagsSync(props.dagsFolder);
    this.dags = dags.specs;
    const projectRoot = projectRootOf(props.projectRoot ?? dags.folder ?? process.cwd(), props.projectRoot !== undefined);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retentionDays = props.xcomRetentionDays ?? 30;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const batchWatch = props.batchWatch ?? 'sync';
    const batchWatchIntervalSeconds = props.batchWatchIntervalSeconds ?? DEFAULT_BATCH_WATCH_INTERVAL_SECONDS;
    const iterateMode = props.iterateMode ?? 'inline';
    this.naming = new StateMachineNaming(props.namePrefix ?? namePrefix(stack.stackName, this.node.path));
    const specs = this.dags;

    // --- Storage ------------------------------------------------------------------------------------
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: PK, type: dynamodb.AttributeType.STRING },
      sortKey: { name: SK, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });
    const attr = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    for (const g of TABLE_GLOBAL_SECONDARY_INDEXES) {
      const [pk, sk] = g.KeySchema;
      this.table.addGlobalSecondaryIndex({ indexName: g.IndexName, partitionKey: attr(pk.AttributeName), sortKey: attr(sk.AttributeName), projectionType: dynamodb.ProjectionType.ALL });
    }
    if (props.pools !== undefined && Object.keys(props.pools).length > 0) new AirlessPools(this, 'Pools', this.table, props.pools);

    this.bucket = new s3.Bucket(this, 'LargeValues', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      lifecycleRules: [
        // The store tags a finished run's values (S3LargeValueStore.expire): they go after the retention.
        { id: 'expire-finished-runs', tagFilters: { [EXPIRED_TAG.Key]: EXPIRED_TAG.Value }, expiration: Duration.days(retentionDays) },
        // Iterations' item lists and their Distributed Maps' results (contract.ts ITEM_LISTS_FOLDER): a try's only.
        { id: 'expire-item-lists', prefix: `${LARGE_VALUE_PREFIX}/${ITEM_LISTS_FOLDER}/`, expiration: Duration.days(retentionDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    NagSuppressions.addResourceSuppressions(this.bucket, [
      {
        id: 'AwsSolutions-S1',
        reason: 'The bucket holds task values written and read only by the stack\'s functions (under IAM, SSL only); CloudTrail data events audit it if needed, server access logs would need a second bucket for every stack.',
      },
    ]);

    // --- Functions ----------------------------------------------------------------------------------
    this.batch = new BatchResources(this, 'Batch', { dags: specs, batch: props.batch ?? { mode: 'existing' } });
    const environment: Record<string, string> = {
      [ENV.tableName]: this.table.tableName,
      [ENV.bucketName]: this.bucket.bucketName,
      [ENV.xcomTtlSeconds]: String(retentionDays * 86_400),
      [ENV.stateMachineArnPrefix]: `arn:${stack.partition}:states:${stack.region}:${stack.account}:stateMachine:`,
      [ENV.stateMachineNamePrefix]: this.naming.prefix,
      [ENV.batchWatcher]: 'true',
      [ENV.batchWatch]: batchWatch,
      [ENV.batchWatchIntervalSeconds]: String(batchWatchIntervalSeconds),
      [ENV.bundlesPrefix]: DEFAULT_BUNDLES_PREFIX,
      [ENV.versionsRetained]: String(props.versionsRetained ?? DEFAULT_VERSIONS_RETAINED),
      [ENV.taskRunnerTimeoutSeconds]: String((props.functions?.taskRunner?.timeout ?? FUNCTION_DEFAULTS.taskRunner.timeout).toSeconds()),
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    };
    const makeFunction = (name: FunctionName | 'assetEvents', description: string): NodejsFunction => {
      const file = name === 'assetEvents' ? ASSET_EVENTS_FUNCTION_FILE : FUNCTION_FILES[name];
      const o = { ...FUNCTION_DEFAULTS[name], ...(props.functions?.[name] ?? {}) };
      const logGroup = new logs.LogGroup(this, `${capitalize(name)}Logs`, { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
      const fn = new NodejsFunction(this, capitalize(name), {
        description,
        entry: path.join(FUNCTIONS_DIR, `${file}${FROM_SOURCE ? '.ts' : '.js'}`),
        handler: 'handler',
        runtime: FUNCTION_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        memorySize: o.memorySize,
        timeout: o.timeout,
        logGroup,
        tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
        projectRoot: projectRoot.root,
        depsLockFilePath: projectRoot.lockFile,
        environment: { ...environment, POWERTOOLS_SERVICE_NAME: `airless-${file}` },
        bundling: {
          format: OutputFormat.ESM,
          target: 'node22',
          mainFields: ['module', 'main'],
          minify: true,
          sourceMap: true,
          sourcesContent: false,
          // The AWS SDK is bundled: the versions tested are the versions deployed.
          bundleAwsSDK: true,
          externalModules: [],
          ...(SOURCE_TSCONFIG !== undefined ? { tsconfig: SOURCE_TSCONFIG } : {}),
          banner: "import { createRequire as __airlessRequire } from 'node:module'; const require = __airlessRequire(import.meta.url);",
          // The DAGs: the functions import 'airless-dags', which is this stack's generated module.
          esbuildArgs: { '--alias:airless-dags': dags.dagsModule },
        },
      });
      NagSuppressions.addResourceSuppressions(
        fn,
        [
          { id: 'AwsSolutions-L1', reason: 'Pinned to Node.js 22, the Node the project runs its tests on locally (what is tested is what deploys).' },
          {
            id: 'AwsSolutions-IAM4',
            reason: 'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs.',
            appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
          },
        ],
        true,
      );
      return fn;
    };
    this.functions = {
      scheduler: makeFunction('scheduler', 'airless scheduler: failed tries, timers, the reconcile while runs are active'),
      trigger: makeFunction('trigger', 'airless trigger: creates DAG runs (EventBridge Scheduler target)'),
      taskRunner: makeFunction('taskRunner', 'airless task runner: one step of a try of a task'),
      sensorPoke: makeFunction('sensorPoke', 'airless sensor poke: one poke of a sensor'),
      describeJobs: makeFunction('describeJobs', 'airless Batch watcher: one DescribeJobs call for up to 100 jobs'),
      api: makeFunction('api', 'airless REST API (/api/v2) behind a Function URL with IAM auth'),
    };
    const f = this.functions;
    // Assets' watchers (S3 through EventBridge, EventBridge rules, SQS): a function of their own, only when some DAG has one.
    const assetEvents = hasDeployedWatchers(specs) ? makeFunction('assetEvents', 'airless asset events: S3, EventBridge and SQS deliveries of the assets\' watchers') : undefined;
    // Task code (the task runner's tries, the sensors' pokes) reads the secrets backend.
    if (props.secrets) grantSecrets([f.taskRunner, f.sensorPoke], props.secrets);

    // --- IAM of the functions -------------------------------------------------------------------------
    const machineArn = (name: string) => stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const machines = deployedMachines({ batchWatch });
    const lifecycleArns = machines.map((m) => machineArn(this.naming.lifecycle(m)));
    const timerArn = machineArn(this.naming.timer);
    const watcherArn = machineArn(this.naming.batchWatcher);
    // The executions of the Standard lifecycle machines (the Express one's cannot be described).
    const lifecycleExecutions = machines.filter((m) => MACHINE_WORKFLOW_TYPE[m].type === 'STANDARD').map((m) =>
      stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${this.naming.lifecycle(m)}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    );
    const startExecution = (fn: NodejsFunction, resources: string[]) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources }));

    // Everything that moves run state reads and writes the table: items, queries, conditional writes and
    // transactions (authorized per item action). Never a scan, and no streams.
    const tableAccess = new iam.PolicyStatement({
      actions: TABLE_ACTIONS,
      resources: [this.table.tableArn, `${this.table.tableArn}/index/*`],
    });
    for (const fn of [f.scheduler, f.trigger, f.taskRunner, f.sensorPoke, f.describeJobs, f.api]) fn.addToRolePolicy(tableAccess);
    // The DAGs' notifiers (callbacks and deadline alerts run in any function that runs a scheduler step).
    grantNotifiers(stack, specs, [f.scheduler, f.trigger, f.taskRunner, f.sensorPoke, f.describeJobs, f.api]);
    // Deadline alerts: one-time EventBridge Scheduler schedules that invoke the scheduler function.
    if (declaresDeadlines(specs)) {
      this.deadlineSchedules = new DeadlineSchedules(this, 'DeadlineSchedules', {
        groupName: `${this.naming.prefix}-deadlines`,
        target: f.scheduler,
        grantees: [f.scheduler, f.trigger, f.taskRunner, f.sensorPoke, f.describeJobs, f.api, ...(assetEvents ? [assetEvents] : [])],
      });
    }
    // XCom and pipeline-context values too large for an item, under the store's prefix (S3LargeValueStore).
    const values = this.bucket.arnForObjects(`${LARGE_VALUE_PREFIX}/*`);
    // Every function holds the store: any of them may put a large value (the trigger and the API a conf
    // over the item limit), read one, or tag a finished run's values to expire.
    for (const fn of Object.values(f)) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject', 's3:PutObjectTagging'], resources: [values] }));
    }
    // The versions' code (airless/bundles/, under the same prefix): every function may load a run's version
    // (GetObject above); the scheduler's reconciler rounds prune the code no run needs any more.
    f.scheduler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [this.bucket.arnForObjects(`${DEFAULT_BUNDLES_PREFIX}*`)] }));
    if (dags.versionBundles !== undefined) {
      new s3deploy.BucketDeployment(this, 'VersionBundles', {
        sources: [s3deploy.Source.asset(dags.versionBundles)],
        // aws-cdk-lib's IBucket declares `isWebsite` optional-present, which exactOptionalPropertyTypes refuses for its own Bucket.
        destinationBucket: this.bucket as unknown as s3.IBucket,
        destinationKeyPrefix: DEFAULT_BUNDLES_PREFIX,
        // Older deploys' bundles stay: runs in flight on them load them; the reconciler prunes them.
        prune: false,
        retainOnDelete: true,
      });
      // The BucketDeployment's handler is a singleton of the stack.
      for (const child of stack.node.children) {
        if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
        NagSuppressions.addResourceSuppressions(
          child,
          [
            { id: 'AwsSolutions-L1', reason: 'The CDK\'s BucketDeployment handler: its runtime is the one aws-cdk-lib ships it with.' },
            { id: 'AwsSolutions-IAM4', reason: 'The BucketDeployment handler writes its own CloudWatch logs (AWSLambdaBasicExecutionRole).' },
            { id: 'AwsSolutions-IAM5', reason: 'The BucketDeployment handler copies the DAG versions\' bundles from the CDK asset bucket into this stack\'s bucket: the grants aws-cdk-lib makes for it (s3:GetObject*/List*/PutObject* on those buckets\' objects).' },
          ],
          true,
        );
      }
    }
    // Every function that runs scheduler steps dispatches lifecycles and timers: the task runner and the
    // sensor poke report their tries themselves (and start what the scheduler decided), the API triggers,
    // clears and backfills. A replayed dispatch of a Standard lifecycle checks the execution it finds, and
    // the reconcile asks whether a running try's lifecycle execution has ended.
    for (const fn of [f.scheduler, f.trigger, f.taskRunner, f.sensorPoke, f.describeJobs, f.api]) {
      startExecution(fn, [...lifecycleArns, timerArn]);
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: lifecycleExecutions }));
    }
    // A human-in-the-loop answer (the API) hands the answer to the hitl machine's waiting state, and the
    // task runner's hitl_token sends its token back at once when the answer came before it.
    const hitlMachine = this.naming.lifecycle('hitl');
    const hitlWaits = [machineArn(hitlMachine), stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${hitlMachine}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })];
    for (const fn of [f.api, f.taskRunner]) fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: hitlWaits }));
    // The task runner submits a Batch job in poll mode (its watcher starts).
    const pollsBatch = batchWatch === 'poll' && this.batch.tasks > 0;
    if (pollsBatch) startExecution(f.taskRunner, [watcherArn]);
    if (pollsBatch && this.batch.enabled) this.batch.grantSubmitAndDescribe(f.taskRunner);
    f.describeJobs.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }));
    // Batch tasks: the scheduler stops a job (single or array) still RUNNABLE past its runnableTimeout
    // (ListJobs by name, DescribeJobs, TerminateJob: a timer's step, which only the scheduler handles) and
    // settles an array wave's children (`array_finished` lists the failed ones: ListJobs, DescribeJobs).
    const batchTasks = this.batch.tasks > 0;
    if (batchTasks) {
      f.scheduler.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:ListJobs', 'batch:DescribeJobs'], resources: ['*'] }));
      f.scheduler.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] }));
    }
    // Stopping a run (its dagrunTimeout: the scheduler; marking it failed or success, or an instance: the
    // API) stops its instances' lifecycle executions and terminates their Batch jobs (lib/aws/stop-tries.ts).
    for (const fn of [f.scheduler, f.api]) fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StopExecution'], resources: lifecycleExecutions }));
    if (batchTasks) {
      f.api.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:ListJobs'], resources: ['*'] }));
      f.api.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] }));
    }

    const stackWildcards = {
      id: 'AwsSolutions-IAM5',
      reason:
        'Wildcards scoped to this stack: its table\'s indexes (<table>/index/*), its bucket\'s objects under the store\'s prefix (<bucket>/airless/*), and the executions of its own lifecycle state machines (<machine>:*: execution names are made at run time).',
      appliesTo: [
        { regex: `/^Resource::<${logicalId(this.table)}\\.Arn>\\/index\\/\\*$/g` },
        { regex: `/^Resource::<${logicalId(this.bucket)}\\.Arn>\\/airless\\/(bundles\\/)?\\*$/g` },
        stateMachineWildcard(this.naming.prefix),
      ],
    };
    const batchWildcards = {
      id: 'AwsSolutions-IAM5',
      reason:
        'batch:DescribeJobs and batch:ListJobs support no resource-level permission (*); jobs get their ids when SubmitJob creates them, so tagging them names job/*; a job definition named without a revision is submitted at its latest (job-definition/<name>:*).',
      appliesTo: ['Resource::*', ...BATCH_WILDCARDS],
    };
    const stackAndBatchWildcards = { ...stackWildcards, appliesTo: [...stackWildcards.appliesTo, ...batchWildcards.appliesTo], reason: `${stackWildcards.reason} ${batchWildcards.reason}` };
    for (const fn of [f.trigger, f.sensorPoke]) NagSuppressions.addResourceSuppressions(fn, [stackWildcards], true);
    // The scheduler and the API function stop Batch jobs (ListJobs: no resource-level permission).
    for (const fn of [f.scheduler, f.api]) NagSuppressions.addResourceSuppressions(fn, [batchTasks ? stackAndBatchWildcards : stackWildcards], true);
    if (props.tracing) for (const fn of Object.values(f)) suppressXRay(fn);
    for (const fn of [f.taskRunner, f.describeJobs]) NagSuppressions.addResourceSuppressions(fn, [stackAndBatchWildcards], true);

    // The asset-events function runs scheduler steps as the trigger does (asset events start consumer runs).
    if (assetEvents) {
      assetEvents.addToRolePolicy(tableAccess);
      grantNotifiers(stack, specs, [assetEvents]);
      assetEvents.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject', 's3:PutObjectTagging'], resources: [values] }));
      startExecution(assetEvents, [...lifecycleArns, timerArn]);
      assetEvents.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: lifecycleExecutions }));
      NagSuppressions.addResourceSuppressions(assetEvents, [stackWildcards], true);
      const watchers = new AssetWatchers(this, 'AssetWatchers', { specs, handler: assetEvents, ...(props.assetBuckets ? { buckets: props.assetBuckets } : {}) });
      this.assetWatchers = { function: assetEvents, watchers };
    } else this.assetWatchers = undefined;

    // --- The REST API ---------------------------------------------------------------------------------
    // A Function URL that AWS guards with IAM: every request is signed with SigV4 by a principal allowed
    // lambda:InvokeFunctionUrl on this function (never NONE: the API triggers, clears and deletes runs).
    this.apiUrl = f.api.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    // Output keys after the construct's id (`AirlessApiUrl`), which `airless ... --stack <name>` finds.
    const outputKey = (name: string) => `${this.node.id.replace(/[^A-Za-z0-9]/g, '')}${name}`;
    new CfnOutput(this, API_URL_OUTPUT, {
      value: this.apiUrl.url,
      description: `${API_URL_DESCRIPTION} (/api/v2): sign requests with SigV4 for service lambda (airless ... --stack <name>)`,
    }).overrideLogicalId(outputKey(API_URL_OUTPUT));
    new CfnOutput(this, 'ApiFunctionArn', {
      value: f.api.functionArn,
      description: 'The airless API function: its callers need lambda:InvokeFunctionUrl and lambda:InvokeFunction on it',
    }).overrideLogicalId(outputKey('ApiFunctionArn'));
    for (const caller of props.apiCallers ?? []) this.apiUrl.grantInvokeUrl(caller);

    // --- State machines -------------------------------------------------------------------------------
    const substitutions = {
      BatchJobMachineArn: machineArn(this.naming.lifecycle('batch_job')),
      IterateMachineArn: machineArn(this.naming.lifecycle('iterate')),
      TaskRunnerArn: f.taskRunner.functionArn,
      SchedulerArn: f.scheduler.functionArn,
      SensorPokeArn: f.sensorPoke.functionArn,
      DescribeJobsArn: f.describeJobs.functionArn,
    };
    const definitionSubstitutions = { ...substitutions, Partition: stack.partition };
    // Express executions keep no history: their events go to CloudWatch Logs instead (a name unique to the stack).
    const expressLogs = new logs.LogGroup(this, 'ExpressLifecycleLogs', {
      logGroupName: `/aws/vendedlogs/states/${this.naming.prefix}-express`,
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Each state machine's role gets exactly the statements its compiled definition declares (its
    // integrations': lib/compiler/iam.ts), with the placeholders resolved here.
    const policyContext = (stateMachineName: string | null): PolicyContext => ({
      placeholders: {
        ...substitutions,
        'AWS::Partition': stack.partition,
        'AWS::Region': stack.region,
        'AWS::AccountId': stack.account,
        ...(stateMachineName !== null ? { StateMachineName: stateMachineName } : {}),
      },
      deployment: { batchJobQueuesAndDefinitions: this.batch.submitResources, largeValueObjects: [values] },
      // SubmitJob's queues and definitions: shared managed policies, each under IAM's size limit.
      managed: { batchJobQueuesAndDefinitions: { actions: ['batch:SubmitJob'], attach: (role) => this.batch.grantSubmit(role) } },
    });
    /**
     * The statements each role's state machine declares, the name of that machine, and its cdk-nag
     * suppressions (added once its policy exists, so that they reach it).
     */
    const declared = new Map<iam.Role, { statements: PolicyStatement[]; stateMachineName: string | null; suppressions: NagPackSuppression[] }>();
    const addDeclared = (role: iam.Role, statements: readonly PolicyStatement[], stateMachineName: string | null, suppressions: NagPackSuppression[] = []) => {
      const entry = declared.get(role) ?? { statements: [], stateMachineName, suppressions };
      entry.statements.push(...statements);
      declared.set(role, entry);
    };
    // The shared lifecycle machines: one per lifecycle shape, whatever the DAGs (a DAG change is a change
    // of the functions' code, not of the stack's resources). Each has a role of its own.
    for (const c of compileLifecycleMachines({
      taskRunnerArn: '${TaskRunnerArn}',
      schedulerArn: '${SchedulerArn}',
      sensorPokeArn: '${SensorPokeArn}',
      batchWatch,
      batchWatchIntervalSeconds,
      iterateMode,
    })) {
      const express = c.workflowType.type === 'EXPRESS';
      const name = this.naming.lifecycle(c.machine);
      const id = pascal(c.machine);
      const role = new iam.Role(this, `LifecycleRole${id}`, {
        assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
        description: `airless ${c.machine} lifecycle: what its integrations need`,
      });
      addDeclared(role, c.statements, c.statements.some(namesOwnStateMachine) ? name : null, [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'A Distributed Map describes and stops the executions of its own state machine and its Map Runs\' child executions (<name>:* and <name>/*: their ids are made at run time); an ItemReader/ResultWriter reads and writes objects under the store\'s prefix of the stack\'s bucket (<bucket>/airless/*), whose keys name runs; Batch .sync needs batch:DescribeJobs, which has no resource-level permission, and TerminateJob on the jobs it submits (job/*), and submits a job definition named without a revision at its latest (job-definition/<name>:*); Express logging and X-Ray tracing take no resource (*).',
          appliesTo: ['Resource::*', ...BATCH_WILDCARDS, ownExecutionsWildcard(name), { regex: `/^Resource::<${logicalId(this.bucket)}\\.Arn>\\/airless\\/\\*$/g` }],
        },
      ]);
      const machine = new sfn.StateMachine(this, `Lifecycle${id}`, {
        stateMachineName: name,
        stateMachineType: express ? sfn.StateMachineType.EXPRESS : sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(c.definition)),
        definitionSubstitutions,
        role,
        tracingEnabled: props.tracing ?? false,
        ...(express ? { logs: { destination: expressLogs, level: sfn.LogLevel.ALL, includeExecutionData: true } } : {}),
      });
      suppressStateMachine(machine, express, props.tracing ?? false);
      this.lifecycles.set(c.machine, { machine, compiled: c, role });
    }

    const timer = compileTimerMachine({ schedulerArn: '${SchedulerArn}' });
    const timerRole = new iam.Role(this, 'TimerRole', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com'), description: 'airless timers: invoke the scheduler only' });
    addDeclared(timerRole, timer.statements, this.naming.timer);
    this.timer = new sfn.StateMachine(this, 'Timer', {
      stateMachineName: this.naming.timer,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(timer.definition)),
      definitionSubstitutions,
      role: timerRole,
      tracingEnabled: props.tracing ?? false,
    });
    suppressStateMachine(this.timer, false, props.tracing ?? false);
    if (props.tracing) suppressXRay(timerRole);

    const watcher = compileBatchWatcher({ describeJobsArn: '${DescribeJobsArn}' });
    const watcherRole = new iam.Role(this, 'BatchWatcherRole', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com'), description: 'airless Batch watcher: invoke describe-jobs, continue as new' });
    addDeclared(watcherRole, watcher.statements, this.naming.batchWatcher);
    this.batchWatcher = new sfn.StateMachine(this, 'BatchWatcher', {
      stateMachineName: this.naming.batchWatcher,
      stateMachineType: watcher.workflowType.type === 'EXPRESS' ? sfn.StateMachineType.EXPRESS : sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(watcher.definition)),
      definitionSubstitutions,
      role: watcherRole,
      tracingEnabled: props.tracing ?? false,
    });
    suppressStateMachine(this.batchWatcher, false, props.tracing ?? false);
    if (props.tracing) suppressXRay(watcherRole);

    for (const [role, d] of declared) {
      applyStatements(role, mergeStatements(d.statements), policyContext(d.stateMachineName));
      if (d.suppressions.length) NagSuppressions.addResourceSuppressions(role, d.suppressions, true);
    }
    this.declaredStatements = new Map([...declared].map(([role, d]) => [role, { statements: mergeStatements(d.statements), context: policyContext(d.stateMachineName) }]));

    // --- Schedules and the reconcile ----------------------------------------------------------------
    for (const spec of this.dags) {
      const s = eventBridgeSchedule(spec);
      if (s.kind === 'none') {
        if (timeSchedule(spec.schedule) !== null) Annotations.of(this).addWarningV2(`airless:schedule:${spec.dagId}`, `DAG '${spec.dagId}' gets no schedule: ${s.reason}`);
        continue;
      }
      const time = timeSchedule(spec.schedule);
      const schedule = new scheduler.Schedule(this, `Schedule-${spec.dagId}`, {
        description: `airless: triggers DAG '${spec.dagId}' (${time?.kind === 'cron' ? `${time.expression} ${time.timezone}` : s.expression})`.slice(0, 512),
        schedule: scheduler.ScheduleExpression.expression(s.expression, TimeZone.of(s.timezone)),
        timeWindow: scheduler.TimeWindow.off(),
        target: new schedulerTargets.LambdaInvoke(f.trigger, {
          role: this.scheduleRole(),
          input: scheduler.ScheduleTargetInput.fromObject({ dagId: spec.dagId, logicalDate: scheduler.ContextAttribute.scheduledTime, runType: 'scheduled' }),
          retryAttempts: 10,
          maxEventAge: Duration.hours(1),
        }),
      });
      this.schedules.set(spec.dagId, schedule);
    }

    // The reconcile runs only while runs are active: the first run arms its loop, the last one's end stops
    // it (cdk/reconciler.ts); an idle stack makes no request. The functions that make runs active arm it.
    this.reconciler = new AirlessReconciler(this, 'Reconciler', {
      scheduler: f.scheduler,
      armers: [f.trigger, f.api, f.taskRunner, f.sensorPoke, ...(assetEvents ? [assetEvents] : [])],
      stateMachineName: this.naming.reconciler,
      ...(props.reconcileInterval ? { interval: props.reconcileInterval } : {}),
      tracing: props.tracing ?? false,
    });
  }

  private scheduleRoleInstance: iam.Role | undefined;

  /** The role EventBridge Scheduler assumes to invoke the trigger function (shared by the schedules). */
  private scheduleRole(): iam.Role {
    if (this.scheduleRoleInstance) return this.scheduleRoleInstance;
    const role = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
      description: 'airless schedules: invoke the trigger function only',
    });
    // The same grant the schedule's target adds, made here so that the suppression below finds its policy.
    this.functions.trigger.grantInvoke(role);
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'The scheduler target grants lambda:InvokeFunction on the trigger function and its versions (<trigger>:*): the stack\'s own function only.',
          appliesTo: [{ regex: `/^Resource::<${logicalId(this.functions.trigger)}\\.Arn>:\\*$/g` }],
        },
      ],
      true,
    );
    return (this.scheduleRoleInstance = role);
  }
}

/** `batch_array` → `BatchArray`. */
function pascal(s: string): string {
  return s.split('_').map(capitalize).join('');
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function suppressXRay(scope: IConstruct): void {
  NagSuppressions.addResourceSuppressions(
    scope,
    [{ id: 'AwsSolutions-IAM5', reason: 'X-Ray tracing (the stack prop `tracing`) needs xray:PutTraceSegments and the like, which take no resource.', appliesTo: ['Resource::*'] }],
    true,
  );
}

function suppressStateMachine(machine: sfn.StateMachine, express: boolean, tracing: boolean): void {
  NagSuppressions.addResourceSuppressions(machine, [
    ...(express
      ? []
      : [
          {
            id: 'AwsSolutions-SF1',
            reason: 'A Standard execution keeps its full event history in Step Functions; logging every event to CloudWatch as well would add a cost per transition. Express executions, which keep none, log ALL.',
          },
        ]),
    ...(tracing ? [] : [{ id: 'AwsSolutions-SF2', reason: 'X-Ray tracing is billed per trace: off by default, on with the stack prop `tracing`.' }]),
  ]);
}

/**
 * airless in a stack of its own: a Stack holding one {@link Airless} construct (id `Airless`), for an app
 * that has nothing else (the repository's own `cdk/app.ts` builds the same thing from the construct).
 */
export class AirlessStack extends Stack {
  readonly airless: Airless;

  constructor(scope: Construct, id: string, props: AirlessStackProps = {}) {
    super(scope, id, props);
    this.airless = new Airless(this, 'Airless', props);
  }
}

/** The logical id of a construct's CloudFormation resource (for cdk-nag's `appliesTo` of its ARN). */
function logicalId(construct: IConstruct): string {
  const resource = construct.node.defaultChild as CfnElement | undefined;
  if (resource === undefined) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).getLogicalId(resource);
}

const LOCK_FILES = ['package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock'];

/**
 * The project a folder belongs to, for bundling: the nearest folder at or above `from` that has a lock file,
 * and that file. `exact`: `from` is the project root the user named, so its lock file must be there.
 */
export function projectRootOf(from: string, exact = false): { root: string; lockFile: string } {
  let dir = path.resolve(from);
  for (;;) {
    const lock = LOCK_FILES.map((f) => path.join(dir, f)).find((f) => existsSync(f));
    if (lock !== undefined) return { root: dir, lockFile: lock };
    const parent = path.dirname(dir);
    if (exact || parent === dir) {
      throw new Error(
        exact
          ? `projectRoot ${dir} has no lock file (${LOCK_FILES.join(', ')}): run \`npm install\` there first`
          : `no lock file (${LOCK_FILES.join(', ')}) in ${path.resolve(from)} or above it: the DAGs' project needs one to bundle its packages (run \`npm install\`), or give \`projectRoot\``,
      );
    }
    dir = parent;
  }
}
