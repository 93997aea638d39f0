import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  TABLE_ATTRIBUTE_DEFINITIONS,
  TABLE_BILLING_MODE,
  TABLE_GLOBAL_SECONDARY_INDEXES,
  TABLE_KEY_SCHEMA,
  TTL_ATTRIBUTE,
} from './table-design.ts';

/**
 * Create the airless table (keys, GSIs and TTL from `table-design.ts`, on-demand billing) and wait until
 * it is active. An existing table of that name is left as it is. For tests and local setups; a deployed
 * table is declared by the CDK stack from the same constants.
 */
export async function createTable(client: DynamoDBClient, tableName: string, options: { timeoutMs?: number } = {}): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: TABLE_BILLING_MODE,
        KeySchema: TABLE_KEY_SCHEMA.map((k) => ({ ...k })),
        AttributeDefinitions: TABLE_ATTRIBUTE_DEFINITIONS.map((a) => ({ ...a })),
        GlobalSecondaryIndexes: TABLE_GLOBAL_SECONDARY_INDEXES.map((g) => ({
          IndexName: g.IndexName,
          KeySchema: g.KeySchema.map((k) => ({ ...k })),
          Projection: { ...g.Projection },
        })),
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const t = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    const ready = t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === undefined || g.IndexStatus === 'ACTIVE');
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`table '${tableName}' did not become active in time (status ${t?.TableStatus})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } })).catch((e: unknown) => {
    // Enabling TTL twice is refused with "TimeToLive is already enabled": that is the state we want.
    if (!(e instanceof Error && /already enabled/i.test(e.message))) throw e;
  });
}
