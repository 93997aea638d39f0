/**
 * The DAGs folder as a module. It exists only at bundle time: the CDK app generates a file that imports
 * every DAG file of the folder (cdk/dags-module.ts) and passes it to esbuild as the alias `airless-dags`.
 */
declare module 'airless-dags' {
  /**
   * Every DAG file of the folder: its path relative to the folder, the hash of its bundle (its code, kept in
   * the stack's bucket; cdk/version-bundles.ts) and its module namespace.
   */
  export const dagModules: readonly { file: string; bundle?: string | null; exports: Record<string, unknown> }[];
}
