/**
 * The local cloud: the deployed shape of airless, run in this process.
 *
 * - Step Functions: every task lifecycle compiled from the DAGs (`compileDag`, as the CDK stack embeds
 *   them), the timer, the Batch watcher and the reconciler, on aws-local-stepfunctions behind a local
 *   Step Functions API (local-sfn.ts); Lambda invocations of the Task states go to the real handlers
 *   (handlers.ts), `batch:submitJob.sync` to the harness's `.sync` (batch-sync.ts); Distributed Maps run
 *   their children as executions of the local Step Functions, reading and writing S3 for their
 *   ItemReader/ResultWriter.
 * - Dispatching: the real `SfnDispatcher` with the real `@aws-sdk/client-sfn`, pointed at the local API.
 * - State: the `DynamoDbStateStore` on DynamoDB Local (or LocalStack), large values in s3rver (or
 *   LocalStack's S3) through `S3LargeValueStore`.
 * - Batch: a local Batch API (batch-api.ts) that the real `@aws-sdk/client-batch` talks to.
 * - Time: a skipping clock (clock.ts): waits take no real time, handlers see the time they would have;
 *   or the clock given (e.g. the benchmark's scaled clock, scaled-clock.ts).
 * - Cost: a meter (meter.ts) counts DynamoDB requests, invocations, transitions and Batch calls per task
 *   instance.
 */
import { BatchClient } from '@aws-sdk/client-batch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { compileTimer } from '../cdk/timer-definition.ts';
import { AwsBatchBackend } from '../lib/aws/batch-client.ts';
import { SDK_LOGGER } from '../lib/clients/aws-clients.ts';
import type { TriggerEvent } from '../lib/aws/handlers.ts';
import { blobStoreOn, dagResolverFromModules, DEFAULT_BATCH_WATCH_INTERVAL_SECONDS, type ServiceOverrides } from '../lib/aws/services.ts';
import { SfnDispatcher, sfnClient, StateMachineNaming } from '../lib/aws/sfn-dispatcher.ts';
import type { Dag } from '../lib/authoring/dag.ts';
import { compileBatchWatcher, compileLifecycleMachines, withPartition, type CompileOptions } from '../lib/compiler/index.ts';
import { compileReconciler } from '../lib/compiler/reconciler.ts';
import { ReconcilerArming, ReconcilerFlag, sfnReconcilerStarter } from '../lib/aws/reconciler.ts';
import type { DagRunRecord, RunRef, TaskInstanceRecord } from '../lib/store/records.ts';
import { DynamoDbStateStore } from '../lib/store/dynamodb-store.ts';
import { S3LargeValueStore } from '../lib/store/large-values.ts';
import type { SchedulerEvent } from '../lib/scheduler/host.ts';
import { dagModules, versionBundles } from './airless-dags.ts';
import { uploadBundles, type Deployment } from './deployment.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BundleBucket } from '../lib/aws/bundle-bucket.ts';
import { VersionLoader } from '../lib/dagbag/version-loader.ts';
import type { ListingDagResolver, ModuleDagResolver } from '../lib/aws/services.ts';
import { openBackends, targetFromEnv, type Backends, type EmulatorEndpoints, type Target } from './backends.ts';
import { LocalBatchApi, manifestChildItem, type BatchApiOptions } from './batch-api.ts';
import { submitJobSync, SYNC_POLL_SECONDS } from './batch-sync.ts';
import { SkippingClock } from './clock.ts';
import type { SettlingClock } from './harness-clock.ts';
import { coreFunctions, loadFunctions, type HandlerMode } from './handlers.ts';
import { LocalLambda, type Invocation } from './local-lambda.ts';
import { LocalStepFunctions } from './local-sfn.ts';
import { Meter } from './meter.ts';
import { NotifyApi } from './notify-api.ts';
import { LocalSchedulerApi } from './scheduler-api.ts';
import { DeadlineSchedules, schedulerClient } from '../lib/aws/deadline-schedules.ts';

/** Credentials for the harness's own endpoints (they check no signature). */
const LOCAL_KEYS = { accessKeyId: 'e2e', secretAccessKey: 'e2e' };

/** The names the harness deploys its functions under. */
export const FUNCTION_NAMES = {
  scheduler: 'airless-e2e-scheduler',
  taskRunner: 'airless-e2e-task-runner',
  sensorPoke: 'airless-e2e-sensor-poke',
  trigger: 'airless-e2e-trigger',
  describeJobs: 'airless-e2e-describe-jobs',
} as const;

/** The state machine name prefix (`StateMachineNaming`). */
export const NAME_PREFIX = 'airless-e2e';

/** The name the harness deploys the reconciler state machine under. */
export const RECONCILER_NAME = `${NAME_PREFIX}-reconciler`;

/** The schedule group of the deadline schedules (cdk/deadline-schedules.ts creates the stack's). */
export const DEADLINE_SCHEDULE_GROUP = `${NAME_PREFIX}-deadlines`;

export interface HarnessOptions {
  /** `functions` (default): the middy handlers of functions/; `core`: the lib/aws cores they wrap. */
  handlers?: HandlerMode;
  /** How Batch tasks wait for their job (the compiler's `batchWatch`). Default `sync`. */
  batchWatch?: 'sync' | 'poll';
  /** How the local Batch API runs jobs. */
  batch?: Omit<BatchApiOptions, 'clock'>;
  /**
   * A Batch API already listening elsewhere (e.g. in another process): the harness's clients talk to it
   * and no local Batch API is started (`batch` is then ignored, and `batchApi` throws).
   */
  batchEndpoint?: string;
  /** Default: a new {@link SkippingClock}. */
  clock?: SettlingClock;
  /** Emulators already running (the e2e global setup's); default: start them (local target). */
  emulators?: EmulatorEndpoints;
  /** Default: `AIRLESS_E2E_TARGET` (`local` unless set). */
  target?: Target;
  /**
   * Item lists of iterations whose JSON is longer than this go to S3 and run in a Distributed Map with
   * an ItemReader (the functions' `blobs`). Default: the handler's `ITEMS_INLINE_MAX_BYTES`.
   */
  itemsInlineMaxBytes?: number;
  /** The DAGs deployed (handlers `core` only; `functions` bundle the `airless-dags` module). Default: that module's. */
  dags?: readonly Dag[];
  /** Called with the DynamoDB client of the table before anything uses it (e.g. to add a middleware). */
  instrumentDynamoDb?(client: DynamoDBClient): void;
  /**
   * Whether the functions arm the reconciler state machine when a run becomes active, as a deployed
   * stack's do (cdk/reconciler.ts). Off, the machine is deployed but nothing starts it: `settle()` does not
   * wait for the loop's last round, and a lost event stays lost until the test reconciles.
   * @default false
   */
  reconciler?: boolean;
  /** Seconds between two rounds of the reconciler. Default 300. */
  reconcileIntervalSeconds?: number;
  /**
   * What is deployed first: the functions' DAG modules (with their bundle hashes) and the version bundles
   * uploaded to the bucket (handlers `functions` too: the harness's resolver stands in for the bundled
   * `airless-dags` one). Not with `dags`.
   * @default e2e/airless-dags.ts's modules and bundles
   */
  deployment?: Deployment;
  /**
   * How many of each DAG's newest versions keep their code when a reconciler round prunes (the functions'
   * `VERSIONS_RETAINED`).
   * @default DEFAULT_VERSIONS_RETAINED
   */
  versionsRetained?: number;
}

export interface Harness {
  readonly target: Target;
  readonly handlerMode: HandlerMode;
  readonly clock: SettlingClock;
  readonly meter: Meter;
  readonly lambda: LocalLambda;
  readonly sfn: LocalStepFunctions;
  readonly batchApi: LocalBatchApi;
  /** The local SNS (Publish) and SESv2 (SendEmail) endpoint the notifiers of the DAGs send to. */
  readonly notifyApi: NotifyApi;
  /** The local EventBridge Scheduler: the runs' deadline schedules, fired on the harness clock. */
  readonly schedulerApi: LocalSchedulerApi;
  readonly store: DynamoDbStateStore;
  /** Where large values go (s3rver, or LocalStack's S3). */
  readonly s3: { client: S3Client; bucket: string; prefix: string };
  readonly dags: { getDag(id: string, version?: string): Dag | undefined; readonly dags: readonly Dag[] };
  /** The versions' code in the bucket (under `bundles/<table>/`), as the functions see it. */
  readonly bundles: BundleBucket;
  readonly naming: StateMachineNaming;
  /** Every invocation, in order. */
  readonly invocations: Invocation[];
  /** Scheduler events of type `error` (none is expected). */
  readonly errors: { where: string; run: RunRef | null; error: string }[];
  /** Every task instance change the scheduler reported, in order. */
  readonly tiEvents: TaskInstanceRecord[];
  /**
   * Deploy again: upload `deployment`'s version bundles (nothing is removed) and give the functions its DAG
   * modules (new function code: a new container's resolver, loading other versions afresh from the bucket).
   */
  redeploy(deployment: Deployment): Promise<void>;
  /** Invoke the trigger function: create a run and start it. */
  trigger(ev: TriggerEvent): Promise<DagRunRecord>;
  /** Invoke the scheduler function with a reconcile request. */
  reconcile(req?: { runs?: RunRef[]; staleMs?: number }): Promise<unknown>;
  /** Resolves when every execution has ended and nothing waits. */
  settle(): Promise<void>;
  /** Trigger, settle, and return the run as it ended (or stopped). */
  run(ev: TriggerEvent & { runId: string }): Promise<DagRunRecord>;
  close(): Promise<void>;
}

/** Start the local cloud. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const target = options.target ?? targetFromEnv();
  const handlerMode = options.handlers ?? 'functions';
  const batchWatch = options.batchWatch ?? 'sync';
  const clock = options.clock ?? new SkippingClock();
  const meter = new Meter();
  const backends: Backends = await openBackends(target, options.emulators);
  meter.instrumentDynamoDb(backends.dynamodb);
  options.instrumentDynamoDb?.(backends.dynamodb);
  const largeValues = new S3LargeValueStore({ bucket: backends.bucket, prefix: `values/${backends.tableName}/`, client: backends.s3 });
  const store = new DynamoDbStateStore({ tableName: backends.tableName, client: backends.dynamodb, largeValues });
  if (options.dags && handlerMode !== 'core') throw new Error("the harness's dags option needs handlers: 'core' (the functions bundle the airless-dags module)");
  if (options.dags && options.deployment) throw new Error("the harness's dags and deployment options exclude each other");
  // The versions' code: uploaded at start (and at each redeploy) under the bucket's bundle prefix (beside the
  // store's values, not among them: tests list the store's objects).
  const bundlesPrefix = `bundles/${backends.tableName}/`;
  let bundles!: BundleBucket;
  let deployed!: ModuleDagResolver;
  /** A deploy's functions: their own bundle cache and resolver (a new container). */
  const deploy = async (d: Deployment) => {
    await uploadBundles(backends.s3, backends.bucket, bundlesPrefix, d);
    const bucket = new BundleBucket({ client: backends.s3, bucket: backends.bucket, prefix: bundlesPrefix, cacheDir: mkdtempSync(path.join(tmpdir(), 'airless-e2e-bundles-')) });
    const loader = new VersionLoader({ locate: (dagId, version) => store.getDagVersion(dagId, version), importBundle: (b) => bucket.importBundle(b) });
    bundles = bucket;
    deployed = dagResolverFromModules(d.modules, { versions: () => loader });
  };
  if (options.dags) {
    bundles = new BundleBucket({ client: backends.s3, bucket: backends.bucket, prefix: bundlesPrefix });
    deployed = dagResolverFromModules([{ file: 'faults.ts', exports: Object.fromEntries(options.dags.map((d) => [d.dagId, d])) }]);
  } else await deploy(options.deployment ?? { modules: dagModules, bundles: versionBundles });
  /** The functions' resolver: the current deploy's. */
  const dags: ListingDagResolver & { readonly dags: readonly Dag[] } = {
    getDag: (id, version) => deployed.getDag(id, version),
    loadVersion: (id, version) => deployed.loadVersion(id, version),
    get dags() {
      return deployed.dags;
    },
  };
  /** The functions' bundles: the current deploy's. */
  const currentBundles = {
    manifest: (b: string) => bundles.manifest(b),
    readFile: (b: string, f: string) => bundles.readFile(b, f),
    importBundle: (b: string) => bundles.importBundle(b),
    deleteBundle: (b: string) => bundles.deleteBundle(b),
  };

  // AWS Batch.
  // Array children run their own item of the wave's manifest in S3, as a real child reads it.
  const batchApi =
    options.batchEndpoint === undefined ? new LocalBatchApi({ childItem: manifestChildItem(backends.s3), ...options.batch, clock, region: backends.region }) : null;
  const batchEndpoint = batchApi ? await batchApi.listen() : options.batchEndpoint!;
  const newBatchClient = () => {
    const c = new BatchClient({ endpoint: batchEndpoint, region: backends.region, credentials: LOCAL_KEYS, logger: SDK_LOGGER });
    meter.instrumentBatch(c);
    return c;
  };
  const syncClient = newBatchClient();
  const handlerBatchClient = newBatchClient();

  // SNS and SES for the DAGs' notifiers: the functions' clients read the endpoint from the environment.
  const notifyApi = new NotifyApi();
  const notifyEndpoint = await notifyApi.listen();
  process.env['AWS_ENDPOINT_URL_SNS'] = notifyEndpoint;
  process.env['AWS_ENDPOINT_URL_SESV2'] = notifyEndpoint;
  process.env['AWS_ACCESS_KEY_ID'] ??= LOCAL_KEYS.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] ??= LOCAL_KEYS.secretAccessKey;

  // Lambda and Step Functions.
  const lambda = new LocalLambda({ meter, clock, region: backends.region });

  // EventBridge Scheduler for the runs' deadlines: a due schedule invokes its target, the scheduler function.
  const schedulerApi = new LocalSchedulerApi({ clock, region: backends.region, invoke: (arn, input) => lambda.invoke(arn, input) });
  const schedulerEndpoint = await schedulerApi.listen();
  const deadlineSchedules = new DeadlineSchedules({
    client: schedulerClient({ endpoint: schedulerEndpoint, region: backends.region, credentials: LOCAL_KEYS }),
    groupName: DEADLINE_SCHEDULE_GROUP,
    roleArn: `arn:aws:iam::000000000000:role/${NAME_PREFIX}-deadline-scheduler`,
    targetArn: `arn:aws:lambda:${backends.region}:000000000000:function:${FUNCTION_NAMES.scheduler}`,
    now: () => clock.now(),
  });
  const sfn = new LocalStepFunctions({
    clock,
    meter,
    lambda,
    region: backends.region,
    submitJobSync: (p, signal) => submitJobSync(p, { client: syncClient, clock, pollSeconds: SYNC_POLL_SECONDS, ...(signal ? { signal } : {}) }),
    s3: backends.s3,
  });
  const sfnEndpoint = await sfn.listen();
  const naming = new StateMachineNaming(NAME_PREFIX);
  const dispatcher = new SfnDispatcher({
    client: sfnClient({ endpoint: sfnEndpoint, region: backends.region, credentials: LOCAL_KEYS }),
    dags,
    naming,
    stateMachineArnPrefix: sfn.arnPrefix,
    batchWatcher: true,
    batchWatch,
    now: () => clock.now(),
  });

  const errors: Harness['errors'] = [];
  const tiEvents: TaskInstanceRecord[] = [];
  const onEvent = (e: SchedulerEvent) => {
    if (e.type === 'error') errors.push({ where: e.where, run: e.run, error: e.error instanceof Error ? `${e.error.name}: ${e.error.message}` : String(e.error) });
    else if (e.type === 'ti') tiEvents.push({ ...e.ti });
  };
  const overrides: ServiceOverrides = {
    store,
    dispatcher,
    batch: new AwsBatchBackend({
      client: handlerBatchClient,
      ...(batchWatch === 'poll' ? { onSubmitted: (jobId: string) => dispatcher.startBatchWatcher([jobId], DEFAULT_BATCH_WATCH_INTERVAL_SECONDS) } : {}),
    }),
    now: () => clock.now(),
    onEvent,
    // Item lists too long for the state: in the large-value bucket, read by the Distributed Map's ItemReader.
    blobs: blobStoreOn(largeValues, options.itemsInlineMaxBytes),
    dags,
    bundles: currentBundles,
    deadlineSchedules,
    ...(options.versionsRetained !== undefined ? { versionsRetained: options.versionsRetained } : {}),
    ...(options.reconciler
      ? {
          reconciler: new ReconcilerArming({
            flag: new ReconcilerFlag(store.doc, store.tableName),
            starter: sfnReconcilerStarter(dispatcher.client, sfn.stateMachineArn(RECONCILER_NAME)),
            ...(options.reconcileIntervalSeconds !== undefined ? { intervalSeconds: options.reconcileIntervalSeconds } : {}),
            now: () => clock.now(),
          }),
        }
      : {}),
  };
  const fns = handlerMode === 'functions' ? await loadFunctions(overrides) : coreFunctions(dags, overrides);
  const arns = {
    scheduler: lambda.register(FUNCTION_NAMES.scheduler, fns.scheduler),
    taskRunner: lambda.register(FUNCTION_NAMES.taskRunner, fns.taskRunner),
    sensorPoke: lambda.register(FUNCTION_NAMES.sensorPoke, fns.sensorPoke),
    trigger: lambda.register(FUNCTION_NAMES.trigger, fns.trigger),
    describeJobs: lambda.register(FUNCTION_NAMES.describeJobs, fns.describeJobs),
  };
  const invocations: Invocation[] = [];
  const record = lambda.invoke.bind(lambda);
  lambda.invoke = (functionName, payload) => {
    invocations.push({ functionName: lambda.nameOf(functionName), payload: JSON.parse(JSON.stringify(payload ?? null)) as unknown });
    return record(functionName, payload);
  };

  // The state machines the stack deploys.
  const compileOptions: CompileOptions = {
    taskRunnerArn: arns.taskRunner,
    schedulerArn: arns.scheduler,
    sensorPokeArn: arns.sensorPoke,
    batchJobMachineArn: `${sfn.arnPrefix}${naming.lifecycle('batch_job')}`,
    iterateMachineArn: `${sfn.arnPrefix}${naming.lifecycle('iterate')}`,
    batchWatch,
  };
  // A fixed set, whatever the DAGs: each task's execution names its machine and carries its settings.
  for (const c of compileLifecycleMachines(compileOptions)) sfn.register(naming.lifecycle(c.machine), withPartition(c.definition), c.workflowType.type);
  sfn.register(naming.timer, withPartition(compileTimer({ schedulerArn: arns.scheduler })), 'STANDARD');
  const watcher = compileBatchWatcher({ describeJobsArn: arns.describeJobs });
  sfn.register(naming.batchWatcher, withPartition(watcher.definition), watcher.workflowType.type);
  const reconcilerMachine = compileReconciler({ schedulerArn: arns.scheduler });
  sfn.register(RECONCILER_NAME, withPartition(reconcilerMachine.definition), reconcilerMachine.workflowType.type);

  const harness: Harness = {
    target,
    handlerMode,
    clock,
    meter,
    lambda,
    sfn,
    get batchApi(): LocalBatchApi {
      if (!batchApi) throw new Error(`the harness's Batch API runs elsewhere (${batchEndpoint})`);
      return batchApi;
    },
    notifyApi,
    schedulerApi,
    store,
    s3: { client: backends.s3, bucket: backends.bucket, prefix: `values/${backends.tableName}/` },
    dags,
    get bundles(): BundleBucket {
      return bundles;
    },
    redeploy: deploy,
    naming,
    invocations,
    errors,
    tiEvents,
    async trigger(ev) {
      const out = (await lambda.invoke(FUNCTION_NAMES.trigger, ev)) as { runs: DagRunRecord[]; skipped: string | null };
      const run = out.runs[0];
      if (!run) throw new Error(`the trigger function created no run: ${out.skipped ?? '?'}`);
      return run;
    },
    reconcile(req = {}) {
      return lambda.invoke(FUNCTION_NAMES.scheduler, { type: 'reconcile', ...req });
    },
    settle: () => clock.idle(),
    async run(ev) {
      await harness.trigger(ev);
      await harness.settle();
      const run = await store.getRun({ dagId: ev.dagId, runId: ev.runId });
      if (!run) throw new Error(`no run '${ev.runId}' of DAG '${ev.dagId}' after triggering it`);
      return run;
    },
    async close() {
      await clock.idle();
      await Promise.all([sfn.close(), batchApi?.close(), notifyApi.close(), schedulerApi.close()]);
      syncClient.destroy();
      handlerBatchClient.destroy();
      await backends.close();
    },
  };
  return harness;
}
