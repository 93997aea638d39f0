/**
 * The DAGs folder as a module. It exists only at bundle time: the CDK app generates a file that imports
 * every DAG file of the folder (cdk/dags-module.ts) and passes it to esbuild as the alias `airless-dags`.
 */
declare module 'airless-dags' {
  /** Every DAG file of the folder: its path relative to the folder and its module namespace. */
  export const dagModules: readonly { file: string; exports: Record<string, unknown> }[];
}
