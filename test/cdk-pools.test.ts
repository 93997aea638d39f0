// Pools declared in the construct's props: one custom resource each, whose SDK calls (as synthesized)
// are sent to DynamoDB Local with the real SDK, and read back by the DynamoDB store.
import { DeleteItemCommand, PutItemCommand, type DeleteItemCommandInput, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Airless } from '../cdk/airless.ts';
import { createAirlessApp } from '../cdk/airless-app.ts';
import { checkPools, PoolPropsError } from '../cdk/pools.ts';
import { createTable } from '../lib/store/create-table.ts';
import { DynamoDbStateStore } from '../lib/store/dynamodb-store.ts';
import { startDynamoDbLocal, type DynamoDbLocal } from './support/dynamodb-local.ts';
import { Annotations, Match } from 'aws-cdk-lib/assertions';

const POOLS = { api_throttle: { slots: 4, description: 'the vendor API' }, default_pool: { slots: 64 }, gpu: { slots: -1 } };

/** A synthesized value with every `{ Ref }` replaced by `tableName` and `Fn::Join` joined. */
function resolve(value: unknown, tableName: string): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string };
  if (v.Ref !== undefined) return tableName;
  if (v['Fn::Join']) return v['Fn::Join'][1].map((x) => resolve(x, tableName)).join(v['Fn::Join'][0]);
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

describe('pools in the construct props', () => {
  let template: Template;
  let ddb: DynamoDbLocal;

  beforeAll(async () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = await createAirlessApp({ dagsFolder: 'test/fixtures/cdk', app, stackName: 'AirlessPools', props: { pools: POOLS } });
    template = Template.fromStack(stack);
    expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    ddb = await startDynamoDbLocal();
  }, 180_000);
  afterAll(async () => {
    await ddb?.stop();
  });

  const calls = () =>
    Object.values(template.findResources('Custom::AirlessPool')).map((r) => {
      const p = (r as { Properties: { Create: unknown; Update: unknown; Delete?: unknown } }).Properties;
      return { create: p.Create, update: p.Update, delete: p.Delete };
    });

  it('declares one custom resource per pool, put on create and update; deleted on delete but default_pool', () => {
    const all = calls();
    expect(all).toHaveLength(3);
    const parsed = all.map((c) => ({ create: JSON.parse(resolve(c.create, 'T')) as { action: string; parameters: { Item: { name: { S: string } } } }, del: c.delete === undefined ? null : (JSON.parse(resolve(c.delete, 'T')) as { action: string }) }));
    expect(parsed.map((p) => [p.create.parameters.Item.name.S, p.create.action, p.del?.action ?? null]).sort()).toStrictEqual([
      ['api_throttle', 'putItem', 'deleteItem'],
      ['default_pool', 'putItem', null],
      ['gpu', 'putItem', 'deleteItem'],
    ]);
    for (const c of all) expect(c.update).toStrictEqual(c.create);
  });

  it('writes items the DynamoDB store reads as the pools declared; a pool removed is deleted', async () => {
    const tableName = 'airless-pools-deploy';
    await createTable(ddb.client, tableName);
    for (const c of calls()) {
      const call = JSON.parse(resolve(c.create, tableName)) as { parameters: PutItemCommandInput };
      await ddb.client.send(new PutItemCommand(call.parameters));
    }
    const store = new DynamoDbStateStore({ tableName, client: DynamoDBDocumentClient.from(ddb.client) });
    expect((await store.listPools()).sort((a, b) => a.name.localeCompare(b.name))).toStrictEqual([
      { name: 'api_throttle', slots: 4, description: 'the vendor API' },
      { name: 'default_pool', slots: 64, description: 'Default pool' },
      { name: 'gpu', slots: -1, description: '' },
    ]);
    const gpu = calls().find((c) => resolve(c.create, tableName).includes('POOL#gpu'))!;
    await ddb.client.send(new DeleteItemCommand((JSON.parse(resolve(gpu.delete, tableName)) as { parameters: DeleteItemCommandInput }).parameters));
    expect(await store.getPool('gpu')).toBeUndefined();
  });

  it('refuses a bad pool at synth, naming it', () => {
    expect(() => checkPools({ api: { slots: 1.5 } })).toThrow(new PoolPropsError("Airless pools prop, pool 'api': slots must be an integer >= 0, or -1 for unlimited; got 1.5"));
    expect(() => checkPools({ 'a b': { slots: 1 } })).toThrow(/pool 'a b': pool name 'a b' may hold only letters/);
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bad');
    expect(() => new Airless(stack, 'A', { dagsFolder: 'test/fixtures/cdk', pools: { api: { slots: -5 } } })).toThrow(PoolPropsError);
  });

  it('declares none without the prop', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'NoPools');
    new Airless(stack, 'A', { dagsFolder: 'test/fixtures/cdk' });
    Template.fromStack(stack).resourceCountIs('Custom::AirlessPool', 0);
  });
});
