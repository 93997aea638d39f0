// Fault cases on DynamoDB Local: each case on a new table; every incarnation (process) has its own
// DynamoDB client whose middleware injects the fault at the case's write request (PutItem, UpdateItem,
// DeleteItem, TransactWriteItems, BatchWriteItem), above the SDK's own retries.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbDocumentClient } from '../../lib/clients/aws-clients.ts';
import { createTable } from '../../lib/store/create-table.ts';
import { DynamoDbStateStore } from '../../lib/store/dynamodb-store.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from '../../test/support/dynamodb-local.ts';
import { injectIntoDynamoDbClient, type MiddlewareStackLike } from './fault-store.ts';
import { runCase, type CaseRunner, type CaseTarget } from './sweep.ts';

export interface DynamoDbFaults {
  runCase: CaseRunner;
  stop(): Promise<void>;
}

/** Start DynamoDB Local and return a CaseRunner whose cases each run on a new table of it. */
export async function dynamoDbCases(): Promise<DynamoDbFaults> {
  const ddb: DynamoDbLocal = await startDynamoDbLocal();
  const clients: DynamoDBClient[] = [];
  const client = () => {
    const c = new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    clients.push(c);
    return c;
  };
  const checker = client();
  let tables = 0;
  return {
    runCase: async (dagId, plan) => {
      const tableName = `faults-${tables++}`;
      await createTable(checker, tableName);
      const target: CaseTarget = {
        incarnation: (injector) => {
          const c = client();
          injectIntoDynamoDbClient(injector, c.middlewareStack as unknown as MiddlewareStackLike);
          return new DynamoDbStateStore({ tableName, client: dynamoDbDocumentClient(c) });
        },
        check: new DynamoDbStateStore({ tableName, client: dynamoDbDocumentClient(checker) }),
      };
      try {
        return await runCase(target, dagId, plan);
      } finally {
        for (const c of clients.splice(1)) c.destroy();
      }
    },
    stop: async () => {
      for (const c of clients) c.destroy();
      await ddb.stop();
    },
  };
}
