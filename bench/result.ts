// Figures of one scenario run, as a child process reports them and bench/run.ts prints them.

export interface ScenarioResult {
  name: string;
  /** Task instances of the run (checked against the scenario's expected count). */
  taskInstances: number;
  /** Trigger to run end, milliseconds (DAG construction and the final report excluded). */
  wallMs: number;
  /** User + system CPU time of the process over the same span, milliseconds. */
  cpuMs: number;
  /** wallMs * 1000 / taskInstances. */
  perTaskUs: number;
  /** Peak resident set size of the scenario's process (process.resourceUsage().maxRSS), MB. */
  peakRssMb: number;
  /** dag() construction and validation, milliseconds. */
  buildMs: number;
  /** runner.report() after the run, milliseconds. */
  reportMs: number;
  /** V8 heap in use right after the run ended, MB. */
  heapUsedMb: number;
  /** Scenario-specific figures (e.g. sensor pokes). */
  [extra: string]: number | string;
}
