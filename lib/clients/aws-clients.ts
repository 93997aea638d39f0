import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Logger } from '@smithy/types';

/**
 * Factories for the AWS clients airless uses. Every client honours `AWS_ENDPOINT_URL` and
 * `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`), so one variable
 * points everything at LocalStack or an emulator. The AWS SDK for JavaScript v3 reads those variables
 * itself (and the shared config file's `endpoint_url`, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is
 * set); these factories add what it does not do: a default region, path-style S3 addressing when an
 * endpoint is configured (emulators do not serve `<bucket>.<host>`), and the document client's options.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** Default region when `AWS_REGION` is not set. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * The endpoint configured for a service in the environment, as the SDK resolves it:
 * `AWS_ENDPOINT_URL_<SERVICE ID, upper case, spaces as _>`, else `AWS_ENDPOINT_URL`; none when
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
 */
export function endpointFromEnv(serviceId: string, env: Env = process.env): string | undefined {
  if ((env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true') return undefined;
  const specific = env[`AWS_ENDPOINT_URL_${serviceId.toUpperCase().replace(/ /g, '_')}`];
  return specific || env.AWS_ENDPOINT_URL || undefined;
}

/** `AWS_REGION`, else us-east-1. */
export function regionFromEnv(env: Env = process.env): string {
  return env.AWS_REGION || DEFAULT_REGION;
}

/** Config every airless client starts from (a default region). Explicit options win. */
export function baseClientConfig(env: Env = process.env): { region: string; logger: Logger } {
  return { region: regionFromEnv(env), logger: SDK_LOGGER };
}

/**
 * The SDK clients' logger: warnings and errors to the console, and no `info`. The SDK's logger
 * middleware builds an `info` entry for every request (filtering the whole input and output of the
 * call for sensitive fields) whenever the logger has an `info` method, as its default no-op logger
 * does: with thousands of items per request, that was about a tenth of the orchestration's CPU.
 */
export const SDK_LOGGER = {
  debug: () => undefined,
  warn: (...a: unknown[]) => console.warn(...a),
  error: (...a: unknown[]) => console.error(...a),
} as unknown as Logger;

/** A DynamoDB client (endpoint from `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` unless given). */
export function dynamoDbClient(config: DynamoDBClientConfig = {}, env: Env = process.env): DynamoDBClient {
  return new DynamoDBClient({ ...baseClientConfig(env), ...config });
}

/**
 * A DynamoDB document client over `client` (a client, or a config for a new one). Undefined attributes
 * are dropped, as JSON would.
 */
export function dynamoDbDocumentClient(client: DynamoDBClient | DynamoDBClientConfig = {}, env: Env = process.env): DynamoDBDocumentClient {
  const base = client instanceof DynamoDBClient ? client : dynamoDbClient(client, env);
  return DynamoDBDocumentClient.from(base, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

/**
 * An S3 client (endpoint from `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` unless given). Path-style
 * addressing is on whenever an endpoint is set, in `config` or in the environment (default: off for AWS).
 */
export function s3Client(config: S3ClientConfig = {}, env: Env = process.env): S3Client {
  const endpointSet = config.endpoint !== undefined || endpointFromEnv('S3', env) !== undefined;
  return new S3Client({ ...baseClientConfig(env), ...(endpointSet ? { forcePathStyle: true } : {}), ...config });
}
