/**
 * The secrets backend of a stack: where its tasks read variables and connections (after their
 * environment, before the table). The task functions get the backend's configuration as environment
 * variables (lib/secrets/backends.ts reads them) and read access to the two prefixes only.
 */
import type { Duration } from 'aws-cdk-lib';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { NagSuppressions } from 'cdk-nag';
import { DEFAULT_MAX_AGE, DEFAULT_PREFIXES, SECRETS_ENV, type SecretsBackendKind } from '../lib/secrets/backends.ts';

/** Where the stack's tasks read variables and connections (`ctx.variables`, `ctx.connections`). */
export interface AirlessSecretsProps {
  /** SSM Parameter Store (SecureString parameters are decrypted) or Secrets Manager. */
  readonly backend: SecretsBackendKind;
  /**
   * Prefix of a variable's parameter or secret name: variable `k` is `<prefix>k`.
   * @default '/airless/variables/' (ssm), 'airless/variables/' (secretsmanager)
   */
  readonly variablesPrefix?: string;
  /**
   * Prefix of a connection's parameter or secret name: connection `c` is `<prefix>c`, holding its URI
   * (`postgres://user:pass@host:5432/db`) or Airflow's JSON form.
   * @default '/airless/connections/' (ssm), 'airless/connections/' (secretsmanager)
   */
  readonly connectionsPrefix?: string;
  /**
   * How long a value read is reused by a warm function before it is read again.
   * @default 30 seconds
   */
  readonly maxAge?: Duration;
  /**
   * Customer managed KMS keys the parameters or secrets are encrypted with (the task functions may
   * decrypt with them). The AWS managed keys (`aws/ssm`, `aws/secretsmanager`) need nothing.
   * @default none
   */
  readonly encryptionKeys?: readonly kms.IKey[];
}

function checkPrefix(prefix: string, what: string): void {
  if (prefix === '' || prefix === '/') throw new Error(`Airless secrets: ${what} must not be empty or '/' (it scopes the tasks' read access), got '${prefix}'`);
  if (/[*?\s]/.test(prefix)) throw new Error(`Airless secrets: ${what} must not hold '*', '?' or spaces, got '${prefix}'`);
}

/** The resolved configuration: prefixes and max age (defaults applied, prefixes checked). */
export function secretsConfig(props: AirlessSecretsProps): { backend: SecretsBackendKind; variablesPrefix: string; connectionsPrefix: string; maxAgeSeconds: number } {
  const defaults = DEFAULT_PREFIXES[props.backend];
  if (!defaults) throw new Error(`Airless secrets: backend must be 'ssm' or 'secretsmanager', got '${String(props.backend)}'`);
  const variablesPrefix = props.variablesPrefix ?? defaults.variables;
  const connectionsPrefix = props.connectionsPrefix ?? defaults.connections;
  checkPrefix(variablesPrefix, 'variablesPrefix');
  checkPrefix(connectionsPrefix, 'connectionsPrefix');
  return { backend: props.backend, variablesPrefix, connectionsPrefix, maxAgeSeconds: props.maxAge?.toSeconds() ?? DEFAULT_MAX_AGE };
}

/** The IAM statements reading one prefix of a backend. */
function readStatements(stack: Stack, backend: SecretsBackendKind, prefix: string): iam.PolicyStatement[] {
  if (backend === 'ssm') {
    // A parameter's ARN is `parameter/<name without its leading slash>`.
    const path = prefix.replace(/^\/+/, '');
    const arn = (resourceName: string) => stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    return [new iam.PolicyStatement({ actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'], resources: [arn(`${path}*`), ...(path.endsWith('/') ? [arn(path.replace(/\/+$/, ''))] : [])] })];
  }
  // A secret's ARN ends with `-` and six random characters after its name: `<prefix>*` covers them.
  const arn = stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${prefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return [new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [arn] })];
}

/** Give the functions that run task code the backend: its configuration and read access to its prefixes. */
export function grantSecrets(functions: readonly lambda.Function[], props: AirlessSecretsProps): void {
  const c = secretsConfig(props);
  for (const fn of functions) {
    const stack = Stack.of(fn);
    fn.addEnvironment(SECRETS_ENV.backend, c.backend);
    fn.addEnvironment(SECRETS_ENV.variablesPrefix, c.variablesPrefix);
    fn.addEnvironment(SECRETS_ENV.connectionsPrefix, c.connectionsPrefix);
    fn.addEnvironment(SECRETS_ENV.maxAge, String(c.maxAgeSeconds));
    for (const s of [...readStatements(stack, c.backend, c.variablesPrefix), ...readStatements(stack, c.backend, c.connectionsPrefix)]) fn.addToRolePolicy(s);
    for (const key of props.encryptionKeys ?? []) key.grantDecrypt(fn);
    NagSuppressions.addResourceSuppressions(
      fn,
      [{ id: 'AwsSolutions-IAM5', reason: 'Task code reads any variable or connection under the configured secrets prefixes (names are chosen at run time); nothing outside them.' }],
      true,
    );
  }
}
