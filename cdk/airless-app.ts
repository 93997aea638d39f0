import { App, Aspects, type StackProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadDagBag } from '../lib/dagbag/dag-bag.ts';
import { resolveDagsFolder } from '../lib/dagbag/dags-folder.ts';
import { AirlessError } from '../lib/errors.ts';
import { AirlessStack, type AirlessStackProps } from './airless-stack.ts';
import { writeDagsModule } from './dags-module.ts';
import { buildVersionBundles } from './version-bundles.ts';

/** DAG files failed to import: the stack is not synthesized (nothing broken gets deployed). */
export class DagBagImportErrors extends AirlessError {
  override name = 'DagBagImportErrors';
}

/** Stack options from the CDK context key `airless` (cdk.json or `-c airless='{...}'`). */
export type AirlessContext = Pick<AirlessStackProps, 'namePrefix' | 'batchWatch' | 'iterateMode' | 'batch' | 'xcomRetentionDays' | 'tracing' | 'batchWatchIntervalSeconds' | 'versionsRetained'>;

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
   * More stack props (they win over the context's).
   * @default the context's (`airless:*` values), else the stack's defaults
   */
  props?: Partial<Omit<AirlessStackProps, 'dags' | 'dagsModule' | 'versionBundles'>> & StackProps;
}

/**
 * Load the DAGs folder and build the airless stack for it. Fails (before any construct exists) with
 * every import error of the folder, each naming its file. The stack is environment-agnostic unless
 * `CDK_DEFAULT_ACCOUNT` and `CDK_DEFAULT_REGION` are set (the CLI sets them when it finds credentials),
 * so synthesizing needs no AWS account.
 */
export async function createAirlessApp(options: AirlessAppOptions = {}): Promise<{ app: App; stack: AirlessStack }> {
  const folder = resolveDagsFolder(options.dagsFolder);
  const bag = await loadDagBag(folder);
  if (bag.importErrors.length) {
    throw new DagBagImportErrors(
      `${bag.importErrors.length} DAG file(s) in ${folder} failed to import; nothing was synthesized:\n${bag.importErrors.map((e) => `  - ${e.error}`).join('\n')}`,
    );
  }
  // Each file's code as its versions will load it (the bucket's bundles), and the hash that names them.
  const built = await buildVersionBundles(bag.folder, bag.files, options.dagsModuleDir);
  const bundles = new Map(built.bundles.map((b) => [b.file, b.bundle]));
  const app = options.app ?? new App();
  const context = (app.node.tryGetContext('airless') ?? {}) as AirlessContext;
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION;
  const stack = new AirlessStack(app, options.stackName ?? ((app.node.tryGetContext('airless:stackName') as string | undefined) ?? 'Airless'), {
    description: `airless: ${bag.dags.length} DAG(s) from ${bag.files.length} file(s)`,
    ...(account && region ? { env: { account, region } } : {}),
    ...context,
    ...(options.props ?? {}),
    dags: bag.dags,
    dagsModule: writeDagsModule(bag.folder, bag.files, options.dagsModuleDir, bundles),
    versionBundles: built.dir,
  });
  if (options.nag ?? true) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
}
