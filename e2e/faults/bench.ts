// The full fault-injection sweep as a benchmark scenario (`npm run bench -- --only faults`): every
// sweep DAG, one fault at every store write, in every mode, on each store: the memory store (faults
// by a proxy), SQLite (each case in real processes: a 'die' fault SIGKILLs the process right after the
// write committed, and a new process resumes) and DynamoDB Local (faults by an SDK client middleware).
// and the deployed shape (compiled state machines, real handlers, DynamoDB Local; a 'die' fault ends the
// Lambda invocation). Prints, per store, {faults, correct, stuck, doubled, wrongState, negative, leaked, error}.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SWEEP_DAG_IDS } from './dags.ts';
import { startEmulators } from '../backends.ts';
import { deployedCases } from './deployed-target.ts';
import { dynamoDbCases } from './dynamodb-target.ts';
import { sqliteProcessCases } from './process-runner.ts';
import { sweep, type CaseResult, type CaseRunner, type Figures } from './sweep.ts';

export interface FaultsScenario {
  name: 'faults';
  stores: ({ store: string; wallMs: number } & Figures)[];
  /** The first failures of each store (at most 20), for a look. */
  failures: CaseResult[];
}

/** Stores to sweep: AIRLESS_FAULT_STORES (comma-separated), default all four. */
export async function runFaultsScenario(only = process.env.AIRLESS_FAULT_STORES?.split(',') ?? ['memory', 'sqlite', 'dynamodb', 'deployed']): Promise<FaultsScenario> {
  const out: FaultsScenario = { name: 'faults', stores: [], failures: [] };
  const dir = mkdtempSync(path.join(tmpdir(), 'airless-faults-'));
  const one = async (store: string, runCase: CaseRunner | undefined) => {
    const t0 = performance.now();
    const { figures, failures } = await sweep({ dagIds: SWEEP_DAG_IDS, ...(runCase ? { runCase } : {}) });
    out.stores.push({ store, wallMs: Math.round(performance.now() - t0), ...figures });
    out.failures.push(...failures.slice(0, 20));
    process.stderr.write(`bench: faults ${store}: ${JSON.stringify(figures)}\n`);
  };
  try {
    if (only.includes('memory')) await one('memory', undefined);
    if (only.includes('sqlite')) await one('sqlite', sqliteProcessCases(dir));
    if (only.includes('dynamodb')) {
      const ddb = await dynamoDbCases();
      try {
        await one('dynamodb', ddb.runCase);
      } finally {
        await ddb.stop();
      }
    }
    if (only.includes('deployed')) {
      const emulators = await startEmulators();
      try {
        await one('deployed', deployedCases(emulators));
      } finally {
        await emulators.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
