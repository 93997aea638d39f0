import type { Dag } from './dag.ts';

/** Finds DAGs by id. */
export interface DagResolver {
  /**
   * The DAG `dagId`. `version` (a run's `dagVersion`) asks for the DAG as that run started it: a resolver
   * that keeps older versions (the standalone server's, whose DAGs folder is reloaded) returns it when
   * it has it; any resolver may ignore it and return the DAG it has.
   */
  getDag(dagId: string, version?: string): Dag | undefined;
}
