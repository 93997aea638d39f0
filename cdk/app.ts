/**
 * The CDK app (cdk.json: `npx tsx cdk/app.ts`): reads the DAGs folder (`dags/`, or AIRLESS_DAGS_FOLDER),
 * fails with the import errors of any broken DAG file, and synthesizes the airless stack.
 */
import { AirlessError } from '../lib/errors.ts';
import { createAirlessApp } from './airless-app.ts';

try {
  const { app } = await createAirlessApp();
  app.synth();
} catch (e) {
  // Errors of the DAGs are data (each names its file): their message says it all. Anything else gets its stack.
  process.stderr.write(`${e instanceof AirlessError ? `${e.name}: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
