/**
 * Where the harness's DynamoDB table and S3 bucket live:
 * - `local` (default): DynamoDB Local (Amazon's jar, from amplify-dynamodb-simulator) and s3rver, either
 *   already running (the e2e suite's global setup starts one of each and passes their endpoints) or
 *   started here;
 * - `localstack` (`AIRLESS_E2E_TARGET=localstack`, set by `npm run test:localstack`): the endpoint in
 *   `AWS_ENDPOINT_URL` (e.g. LocalStack after `cdklocal deploy`), read by the SDK as every deployed client
 *   reads it. The table and bucket are `AIRLESS_E2E_TABLE` / `AIRLESS_E2E_BUCKET` when set (e.g. the
 *   deployed stack's), else new ones made for this harness and removed after it.
 */
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { endpointFromEnv, regionFromEnv, SDK_LOGGER } from '../lib/clients/aws-clients.ts';
import { createTable } from '../lib/store/create-table.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../test/support/dynamodb-local.ts';
import { S3RVER_CREDENTIALS, startS3Local } from '../test/support/s3-local.ts';

/** Endpoints of emulators already running (the e2e global setup's). */
export interface EmulatorEndpoints {
  dynamodb: string;
  s3: string;
  /** A bucket that exists on the S3 emulator. */
  bucket: string;
}

export type Target = 'local' | 'localstack';

/** Which backends the harness uses, from `AIRLESS_E2E_TARGET`. */
export function targetFromEnv(env: NodeJS.ProcessEnv = process.env): Target {
  const t = env['AIRLESS_E2E_TARGET'] ?? 'local';
  if (t !== 'local' && t !== 'localstack') throw new Error(`AIRLESS_E2E_TARGET must be 'local' or 'localstack', got '${t}'`);
  if (t === 'localstack' && !endpointFromEnv('DynamoDB', env)) throw new Error('AIRLESS_E2E_TARGET=localstack needs AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_DYNAMODB) to point at LocalStack');
  return t;
}

export interface Backends {
  target: Target;
  region: string;
  /** A client for the table (the harness adds its meter to it). */
  dynamodb: DynamoDBClient;
  tableName: string;
  s3: S3Client;
  bucket: string;
  close(): Promise<void>;
}

export const BUCKET = 'airless-e2e-values';

/** Start emulators (for a process that runs the harness alone, such as the cost scenario). */
export async function startEmulators(): Promise<EmulatorEndpoints & { stop(): Promise<void> }> {
  const [ddb, s3] = await Promise.all([startDynamoDbLocal(), startS3Local([BUCKET])]);
  return {
    dynamodb: ddb.endpoint,
    s3: s3.endpoint,
    bucket: BUCKET,
    stop: async () => {
      await Promise.all([ddb.stop(), s3.stop()]);
    },
  };
}

/** Open a table and a bucket for one harness. */
export async function openBackends(target: Target, emulators?: EmulatorEndpoints): Promise<Backends> {
  const id = randomUUID().slice(0, 8);
  if (target === 'localstack') {
    const region = regionFromEnv();
    const credentials = process.env['AWS_ACCESS_KEY_ID'] ? undefined : { accessKeyId: 'test', secretAccessKey: 'test' };
    // No endpoint option: the SDK reads AWS_ENDPOINT_URL(_<SERVICE>) as the deployed functions' clients do.
    const dynamodb = new DynamoDBClient({ region, logger: SDK_LOGGER, ...(credentials ? { credentials } : {}) });
    const s3 = new S3Client({ region, forcePathStyle: true, logger: SDK_LOGGER, ...(credentials ? { credentials } : {}) });
    const ownTable = !process.env['AIRLESS_E2E_TABLE'];
    const tableName = process.env['AIRLESS_E2E_TABLE'] || `airless-e2e-${id}`;
    if (ownTable) await createTable(dynamodb, tableName);
    const ownBucket = !process.env['AIRLESS_E2E_BUCKET'];
    const bucket = process.env['AIRLESS_E2E_BUCKET'] || `airless-e2e-${id}`;
    if (ownBucket) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return {
      target,
      region,
      dynamodb,
      tableName,
      s3,
      bucket,
      async close() {
        if (ownTable) await dynamodb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
        if (ownBucket) {
          const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => undefined);
          const keys = (listed?.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
          if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } })).catch(() => undefined);
          await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
        }
        dynamodb.destroy();
        s3.destroy();
      },
    };
  }
  let own: Awaited<ReturnType<typeof startEmulators>> | null = null;
  const endpoints = emulators ?? (own = await startEmulators());
  const dynamodb = new DynamoDBClient({ endpoint: endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, logger: SDK_LOGGER });
  const s3 = new S3Client({ endpoint: endpoints.s3, region: LOCAL_REGION, credentials: S3RVER_CREDENTIALS, forcePathStyle: true, logger: SDK_LOGGER });
  const tableName = `airless-e2e-${id}`;
  await createTable(dynamodb, tableName);
  return {
    target,
    region: LOCAL_REGION,
    dynamodb,
    tableName,
    s3,
    bucket: endpoints.bucket,
    async close() {
      await dynamodb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
      dynamodb.destroy();
      s3.destroy();
      await own?.stop();
    },
  };
}
