import { App, Aspects, type StackProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AirlessStack, type AirlessProps } from './airless.ts';
import { prepareDags } from './prepare-dags.ts';

export { DagBagImportErrors } from './prepare-dags.ts';

/** Stack options from the CDK context key `airless` (cdk.json or `-c airless='{...}'`). */
export type AirlessContext = Pick<AirlessProps, 'namePrefix' | 'batchWatch' | 'iterateMode' | 'batch' | 'xcomRetentionDays' | 'tracing' | 'batchWatchIntervalSeconds' | 'versionsRetained'>;

export interface AirlessAppOptions {
  /**
   * The DAGs folder.
   * @default `AIRLESS_DAGS_FOLDER`, else `dags/` (from the current directory)
   */
  dagsFolder?: string;
  /**
   * The CDK app the stack is added to.
   * @default a new App
   */
  app?: App;
  /**
   * The stack's name.
   * @default the context value `airless:stackName`, else `Airless`
   */
  stackName?: string;
  /**
   * Where the generated `airless-dags` module and the DAG files' version bundles go.
   * @default the system's temporary folder
   */
  dagsModuleDir?: string;
  /**
   * Apply cdk-nag's AwsSolutions pack.
   * @default true
   */
  nag?: boolean;
  /**
   * More props (they win over the context's).
   * @default the context's (`airless:*` values), else the construct's defaults
   */
  props?: Partial<Omit<AirlessProps, 'dags' | 'dagsFolder'>> & StackProps;
}

/**
 * Load the DAGs folder in this process (`prepareDags`) and build an {@link AirlessStack} for it, for tests
 * and tools that are async already. Fails (before any construct exists) with every import error of the
 * folder, each naming its file. The stack is environment-agnostic unless `CDK_DEFAULT_ACCOUNT` and
 * `CDK_DEFAULT_REGION` are set (the CDK CLI sets them when it finds credentials), so synthesizing needs
 * no AWS account.
 */
export async function createAirlessApp(options: AirlessAppOptions = {}): Promise<{ app: App; stack: AirlessStack }> {
  const dags = await prepareDags(options.dagsFolder, options.dagsModuleDir);
  const app = options.app ?? new App();
  const context = (app.node.tryGetContext('airless') ?? {}) as AirlessContext;
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION;
  const stack = new AirlessStack(app, options.stackName ?? ((app.node.tryGetContext('airless:stackName') as string | undefined) ?? 'Airless'), {
    description: `airless: ${dags.specs.length} DAG(s) from ${dags.files.length} file(s)`,
    ...(account && region ? { env: { account, region } } : {}),
    ...context,
    ...(options.props ?? {}),
    dags,
  });
  if (options.nag ?? true) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
}
