// The fault-injection sweep on the durable stores, bounded (every few writes of two DAGs; the full
// sweep is `npm run bench -- --only faults`): SQLite, where a 'die' fault SIGKILLs a real process right
// after the faulted write committed and a new process resumes; DynamoDB Local, faults injected by an
// SDK middleware of the process's DynamoDB client.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbCases, type DynamoDbFaults } from '../e2e/faults/dynamodb-target.ts';
import { sqliteProcessCases } from '../e2e/faults/process-runner.ts';
import { sweep } from '../e2e/faults/sweep.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'airless-faults-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fault injection on SQLite (real processes killed and restarted)', () => {
  it.each([
    ['fault_chain', 'die', 5],
    ['fault_map', 'die', 7],
    ['fault_parent', 'after', 3],
    ['fault_array', 'before', 3],
  ] as const)('%s, a fault (%s) at one write in every %i: every run ends as without faults', async (dagId, mode, stride) => {
    const { figures, failures } = await sweep({ dagIds: [dagId], modes: [mode], stride, runCase: sqliteProcessCases(dir) });
    expect(failures.map((f) => `${f.dagId} ${f.plan.mode} write ${f.plan.at}: ${f.verdict} ${f.detail}`)).toEqual([]);
    expect(figures.faults).toBeGreaterThan(5);
  });
});

describe('fault injection on DynamoDB Local (an SDK middleware)', () => {
  let ddb: DynamoDbFaults;
  beforeAll(async () => {
    ddb = await dynamoDbCases();
  }, 120_000);
  afterAll(() => ddb?.stop());

  it.each([
    ['fault_fan', 7],
    ['fault_sensor', 5],
  ] as const)('%s, a fault at one write in every %i, in every mode: every run ends as without faults', async (dagId, stride) => {
    const { figures, failures } = await sweep({ dagIds: [dagId], stride, runCase: ddb.runCase });
    expect(failures.map((f) => `${f.dagId} ${f.plan.mode} write ${f.plan.at}: ${f.verdict} ${f.detail}`)).toEqual([]);
    expect(figures.faults).toBeGreaterThan(10);
  });
});
