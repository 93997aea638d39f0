/**
 * The repository's CDK app (cdk.json: `npx tsx cdk/app.ts`), built as a user's app is: a stack of its own
 * holding the `Airless` construct for the DAGs folder (`dags/`, or AIRLESS_DAGS_FOLDER), checked with
 * cdk-nag's AwsSolutions pack. A DAG file that fails to import fails the synth with its error.
 */
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Airless, DagBagImportErrors, type AirlessProps } from 'airless/cdk';

const app = new App();
// Options from the CDK context: `airless:stackName`, and `airless` (cdk.json or `-c airless='{...}'`).
const stackName = (app.node.tryGetContext('airless:stackName') as string | undefined) ?? 'Airless';
const context = (app.node.tryGetContext('airless') ?? {}) as Omit<AirlessProps, 'dags' | 'dagsFolder'>;
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
try {
  const stack = new Stack(app, stackName, { description: 'airless: the DAGs of the repository', ...(account && region ? { env: { account, region } } : {}) });
  new Airless(stack, 'Airless', { ...context, dagsFolder: process.env.AIRLESS_DAGS_FOLDER ?? 'dags' });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
} catch (e) {
  // Errors of the DAGs are data (each names its file): their message says it all. Anything else gets its stack.
  process.stderr.write(`${e instanceof DagBagImportErrors ? `${e.name}: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
