/**
 * The CDK app (cdk.json runs it: `npx cdk synth`, `npx cdk deploy`). The Airless construct reads the DAGs
 * in dags/ and declares what runs them on AWS: a DynamoDB table, the scheduler and task functions, the
 * Step Functions state machines, a schedule per scheduled DAG. Put it in a stack of your own, beside the
 * rest of your infrastructure.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Airless } from 'airless/cdk';

const app = new App();
const stack = new Stack(app, '{{stackName}}');
new Airless(stack, 'Airless', { dagsFolder: 'dags' });
app.synth();
