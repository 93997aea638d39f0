// The CDK entry of airless (`import { Airless } from 'airless/cdk'`): the construct that deploys a folder of
// DAGs into a stack of yours, and what it is built from.
export { Airless, AirlessStack, projectRootOf, type AirlessProps, type AirlessStackProps, type PreparedDags, type AirlessFunctionOptions, type FunctionName, FUNCTION_RUNTIME } from './airless.ts';
export { prepareDags, DagBagImportErrors, type PreparedFolder } from './prepare-dags.ts';
export type { AirlessBatchProps } from './batch-resources.ts';
export { PoolPropsError, type AirlessPoolProps } from './pools.ts';
export type { AirlessSecretsProps } from './secrets.ts';
