// The fault-injection sweep, bounded (npm run bench -- --only faults runs the full one): for each
// representative DAG, one fault at every store write, in each mode (the write fails before it
// applies; it applies and its caller gets an error; it applies and the process dies, then a new one
// resumes on the same store). Every case must end as the run ends without faults, with no try's code
// run twice, no counter below zero and no slot left held.
import { describe, expect, it } from 'vitest';
import { FAULT_MODES } from '../e2e/faults/fault-store.ts';
import { SWEEP_DAG_IDS } from '../e2e/faults/dags.ts';
import { sweep } from '../e2e/faults/sweep.ts';

describe('fault injection on the memory store', () => {
  for (const mode of FAULT_MODES) {
    it(`one fault (${mode}) at every write of every sweep DAG: every run ends as without faults`, async () => {
      const { figures, failures } = await sweep({ dagIds: SWEEP_DAG_IDS, modes: [mode] });
      expect(failures.map((f) => `${f.dagId} write ${f.plan.at}: ${f.verdict} ${f.detail}`)).toEqual([]);
      // The sweep reaches every write of the DAGs (222 since tasks decided together are written together,
      // and a try's result goes with its log).
      expect(figures.faults).toBeGreaterThan(200);
      expect(figures.correct).toBe(figures.faults);
    });
  }
});
