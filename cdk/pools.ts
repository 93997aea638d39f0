// Pools declared in the construct's props, written to the table at deploy: one custom resource per pool
// (a DynamoDB PutItem when it is created or its props change, a DeleteItem when it leaves the props), so
// a pool's slots follow the code; `airless pools set` changes them until the next deploy that changes them.

import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as cr from 'aws-cdk-lib/custom-resources';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { DEFAULT_POOL } from '../lib/authoring/options.ts';
import { poolNameProblem, poolSlotsProblem } from '../lib/scheduler/pool-rules.ts';
import { ItemType } from '../lib/store/dynamodb-items.ts';
import { keys } from '../lib/store/table-design.ts';

/** A pool the stack declares. */
export interface AirlessPoolProps {
  /** Slots: an integer >= 0 (0: no task of it starts), or -1 for unlimited. */
  readonly slots: number;
  /** What it limits. @default none */
  readonly description?: string;
}

/** A pool name or slots that cannot be deployed, naming the pool. */
export class PoolPropsError extends Error {
  override name = 'PoolPropsError';
}

/** Check the declared pools: a PoolPropsError naming the first that is wrong. */
export function checkPools(pools: Readonly<Record<string, AirlessPoolProps>>): void {
  for (const [name, p] of Object.entries(pools)) {
    const problem = poolNameProblem(name) ?? (typeof p !== 'object' || p === null ? 'expected { slots, description? }' : poolSlotsProblem(p.slots));
    if (problem !== null) throw new PoolPropsError(`Airless pools prop, pool '${name}': ${problem}`);
    if (p.description !== undefined && typeof p.description !== 'string') throw new PoolPropsError(`Airless pools prop, pool '${name}': description must be a string`);
  }
}

/** The pool's item in DynamoDB's JSON, as the DynamoDB store writes it (putPool). */
export function poolItem(name: string, p: AirlessPoolProps): Record<string, { S: string } | { N: string }> {
  return { ...keyOf(name), type: { S: ItemType.pool }, name: { S: name }, slots: { N: String(p.slots) }, description: { S: p.description ?? (name === DEFAULT_POOL ? 'Default pool' : '') } };
}

/** The pools of the stack, one custom resource each. */
export class AirlessPools extends Construct {
  /** The custom resource of each pool, by name. */
  readonly resources = new Map<string, cr.AwsCustomResource>();

  constructor(scope: Construct, id: string, table: Pick<dynamodb.ITable, 'tableName' | 'tableArn'>, pools: Readonly<Record<string, AirlessPoolProps>>) {
    super(scope, id);
    checkPools(pools);
    for (const [name, p] of Object.entries(pools)) {
      const put: cr.AwsSdkCall = {
        service: 'DynamoDB',
        action: 'putItem',
        parameters: { TableName: table.tableName, Item: poolItem(name, p) },
        physicalResourceId: cr.PhysicalResourceId.of(`pool:${name}`),
      };
      const resource = new cr.AwsCustomResource(this, `Pool-${name}`, {
        resourceType: 'Custom::AirlessPool',
        onCreate: put,
        onUpdate: put,
        // default_pool always exists (the scheduler creates it with 128 slots): leaving the props keeps it as set.
        ...(name === DEFAULT_POOL ? {} : { onDelete: { service: 'DynamoDB', action: 'deleteItem', parameters: { TableName: table.tableName, Key: keyOf(name) } } }),
        policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [table.tableArn] }),
        installLatestAwsSdk: false,
      });
      this.resources.set(name, resource);
    }
    if (this.resources.size === 0) return;
    // The custom resources' handler is a singleton of the stack.
    const stack = Stack.of(this);
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith('AWS679f53fac002430cb0da5b7982bd228')) continue;
      NagSuppressions.addResourceSuppressions(
        child,
        [
          { id: 'AwsSolutions-L1', reason: "The CDK's AwsCustomResource handler: its runtime is the one aws-cdk-lib ships it with." },
          { id: 'AwsSolutions-IAM4', reason: 'The AwsCustomResource handler writes its own CloudWatch logs (AWSLambdaBasicExecutionRole).' },
        ],
        true,
      );
    }
  }
}

function keyOf(name: string): Record<string, { S: string }> {
  const out: Record<string, { S: string }> = {};
  for (const [k, v] of Object.entries(keys.pool(name))) out[k] = { S: v };
  return out;
}
