import type { Dag } from './dag.ts';

/** Finds DAGs by id, and a run's version of a DAG. */
export interface DagResolver {
  /**
   * The DAG `dagId`. `version` (a run's `dagVersion`) asks for the DAG as that run started it: a resolver
   * that keeps older versions in memory returns it when it has it; otherwise the DAG it has (its current
   * version), which the caller checks.
   */
  getDag(dagId: string, version?: string): Dag | undefined;
  /**
   * Load a version of a DAG that is not in memory (its code kept in a bundle store: the home's
   * `bundles/`, or a deployed stack's bucket) and keep it; undefined when that version's code cannot be had
   * (never kept, or pruned). Absent: only the versions in memory exist.
   */
  loadVersion?(dagId: string, version: string): Promise<Dag | undefined>;
  /**
   * Every DAG it has, at its current version: the scheduler finds the DAGs scheduled on an asset among
   * them. Absent: none is found (an asset event then starts no run).
   */
  readonly dags?: readonly Dag[];
}

/** The DAG `dagId` at exactly `version`: from memory, else loaded by the resolver; undefined when it cannot be had. */
export async function dagAtVersion(dags: DagResolver, dagId: string, version: string): Promise<Dag | undefined> {
  const found = dags.getDag(dagId, version);
  if (found?.spec.version === version) return found;
  return (await dags.loadVersion?.(dagId, version)) ?? undefined;
}
